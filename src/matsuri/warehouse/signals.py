"""The ground truth planted in the synthetic company, in one place.

The generator reads these effects; the organiser note (datasets/ORGANISERS.md) explains them; the
tests measure them in the built data. Effects are on the log-odds scale unless noted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# --- Push notifications -------------------------------------------------------------------
PUSH_BASE_LOGIT = -2.3

# Send hour (0-23) -> effect: mornings, lunch and evenings open; nights and mid-afternoon don't.
PUSH_HOUR_EFFECT = np.array([
    -1.2, -1.4, -1.5, -1.5, -1.3, -0.8,   # 0-5
    -0.2, 0.5, 0.6, 0.1, -0.1, 0.0,       # 6-11
    0.5, 0.3, -0.3, -0.4, -0.3, -0.1,     # 12-17
    0.2, 0.4, 0.7, 0.8, 0.3, -0.5,        # 18-23
])
PUSH_WEEKEND_EFFECT = 0.2

PUSH_CATEGORIES = ["health_tip", "campaign", "reminder", "new_product", "news"]
PUSH_SEGMENTS = ["all", "new_users", "premium", "dormant"]
# category x segment interaction (rows: categories, columns: segments)
PUSH_CATEGORY_SEGMENT = np.array([
    # all   new   prem  dorm
    [0.0, 0.3, 0.6, -0.4],   # health_tip: premium users love tips
    [0.1, -0.2, -0.5, 0.8],  # campaign: wakes dormant users, annoys premium
    [0.2, 0.7, 0.1, -0.6],   # reminder: works on new users, not dormant
    [0.0, -0.5, 0.7, 0.2],   # new_product: premium users
    [-0.6, -0.4, -0.5, -0.8],  # news: nobody opens news
])
PUSH_EMOJI_EFFECT = 0.35
PUSH_PERSONALIZED_EFFECT = 0.5
PUSH_TITLE_LENGTH_FREE = 14      # characters before length starts to hurt
PUSH_TITLE_LENGTH_EFFECT = -0.06  # per character beyond that
PUSH_USER_SD = 0.7               # each user's own habit (what the user's history reveals)


# --- Sales calls --------------------------------------------------------------------------
@dataclass(frozen=True)
class Phrase:
    sentence: str  # what the customer says
    keyword: str   # the token a Japanese tokeniser surfaces for it
    kind: str      # positive | negative | decoy
    effect: float  # change in log-odds of winning when the sentence appears
    rate: float    # share of calls in which it appears


CALL_PHRASES = [
    Phrase("お見積もりをいただけますか。", "見積もり", "positive", 1.3, 0.18),
    Phrase("社内で稟議を回してみます。", "稟議", "positive", 1.2, 0.15),
    Phrase("まずはトライアルで試してみたいです。", "トライアル", "positive", 0.9, 0.2),
    Phrase("次回は決裁者も同席します。", "決裁", "positive", 1.0, 0.15),
    Phrase("来期の予算は確保済みです。", "予算", "positive", 1.1, 0.15),
    Phrase("前向きに考えています。", "前向き", "positive", 0.9, 0.2),
    Phrase("来月から使い始めたいです。", "来月", "positive", 0.8, 0.15),
    Phrase("実はもう他社に決めてしまいました。", "他社", "negative", -1.5, 0.12),
    Phrase("正直、割高に感じます。", "割高", "negative", -1.0, 0.18),
    Phrase("今回は見送りになりそうです。", "見送り", "negative", -1.3, 0.12),
    Phrase("一旦、持ち帰って検討します。", "検討", "negative", -0.7, 0.22),
    # Decoys: as common as the planted phrases, no effect at all.
    Phrase("資料を送っていただけますか。", "資料", "decoy", 0.0, 0.25),
    Phrase("セキュリティ面はどうなっていますか。", "セキュリティ", "decoy", 0.0, 0.2),
    Phrase("サポート体制について教えてください。", "サポート", "decoy", 0.0, 0.2),
    Phrase("導入事例はありますか。", "事例", "decoy", 0.0, 0.2),
    Phrase("データ連携は可能ですか。", "連携", "decoy", 0.0, 0.15),
    Phrase("担当者に共有しておきます。", "共有", "decoy", 0.0, 0.2),
]
CALL_BASE_LOGIT = -1.0
CALL_REP_SD = 0.4            # reps differ a little in skill
CALL_DURATION_EFFECT = 0.15  # per extra 10 minutes on the call

# --- Online shop --------------------------------------------------------------------------
ZIPF_EXPONENT = 1.1          # long-tailed popularity
SUCCESSOR_SHARE = 0.6        # share of products that have a planted "next product"
FOLLOW_PROBABILITY = 0.55    # chance the next order's main item is the planted successor

# --- Churn in the month after the year (`churn`) ------------------------------------------
# Users active at the cutoff (an app event in the last 28 days, no churned_at) either quit at the
# cutoff, with probability sigmoid(logit) below, or keep using the app at their own hidden pace,
# which can still leave a quiet month. Churned = no app event in the 30 days after the cutoff.
CHURN_BASE_LOGIT = -3.9
CHURN_FALL_EFFECT = 2.2      # per halving of two-weekly activity (last 14 days vs the 42 before)
CHURN_FALL_MAX = 3.0         # halvings counted at most
CHURN_PUSH_EFFECT = 0.8      # per push received in the last 28 days, for users who never opened one
CHURN_PREMIUM_EFFECT = -1.2  # premium users quit less
CHURN_USER_SD = 0.5          # each user's own, hidden, inclination to quit
