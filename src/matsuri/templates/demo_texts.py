"""Every text the four theme demos (`templates/<theme>/demo.ipynb`) show, in Japanese and English.

A demo asks `speaker()` once and gets a `say(key, **fields)` for its page's language: `?lang=` in
the page's address when Voila hands it over (a demo served on its own), then MATSURI_LANG (the
gallery sets it for every sandboxed demo from the event), then Japanese.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from matsuri.language import page_language, say

TEXT: dict[str, dict[str, str]] = {
    # push-open-rate
    "push_heading": {"ja": "プッシュ通知の文面づくり", "en": "Push notification composer"},
    "push_intro": {"ja": "通知の文面、送る相手と時刻を選ぶと、過去の通知から学習したモデルが開封率と、"
                         "送信に向いた時刻を予測します。",
                   "en": "Write a notification, choose who gets it and when: the model trained on our "
                         "past pushes predicts how many people will open it, and which send hours work best."},
    "push_title": {"ja": "通知のタイトル", "en": "Title"},
    "push_category": {"ja": "カテゴリ", "en": "Category"},
    "push_segment": {"ja": "送信先の層", "en": "Segment"},
    "push_hour": {"ja": "送信時刻（時）", "en": "Send hour"},
    "push_day": {"ja": "曜日", "en": "Day"},
    "push_no_data": {"ja": "{hour}:00 のデータはありません", "en": "No data for {hour}:00"},
    "push_no_data_text": {"ja": "過去にこの時刻に送った通知がないため、モデルは予測できません（灰色の斜線の棒）。"
                                "データのある時刻で開封率が高いのは <b>{best}</b> です。",
                          "en": "None of our past pushes was sent at this hour, so the model cannot say how "
                                "it would do (grey hatched bars). Best send hours with data: <b>{best}</b>."},
    "push_predicted": {"ja": "予測開封率：{rate:.1%}", "en": "Predicted open rate: {rate:.1%}"},
    "push_compare": {"ja": "これまでの全通知の平均は {average:.1%} なので、この案は平均の <b>{ratio:.1f} 倍</b>です。"
                           "この案に向いた送信時刻：<b>{best}</b>。",
                     "en": "Average of all past pushes: {average:.1%}, so this draft is <b>{ratio:.1f}×</b> "
                           "the average. Best send hours for it: <b>{best}</b>."},
    "weekday_1": {"ja": "月曜日", "en": "Monday"},
    "weekday_2": {"ja": "火曜日", "en": "Tuesday"},
    "weekday_3": {"ja": "水曜日", "en": "Wednesday"},
    "weekday_4": {"ja": "木曜日", "en": "Thursday"},
    "weekday_5": {"ja": "金曜日", "en": "Friday"},
    "weekday_6": {"ja": "土曜日", "en": "Saturday"},
    "weekday_7": {"ja": "日曜日", "en": "Sunday"},
    # call-keywords
    "calls_heading": {"ja": "受注につながる言葉は？ 商談通話エクスプローラー", "en": "What wins a deal? Sales-call explorer"},
    "calls_intro": {"ja": "最近の通話を選ぶか、文字起こしを貼り付けてください。各単語を受注の確率への効き方で色分けし"
                          "（緑は受注に有利、赤は不利）、予測した受注確率と効いている言葉を示します。",
                    "en": "Pick a recent call or paste a transcript: each word is coloured by how it moves "
                          "the chance of winning (green helps, red hurts), with the predicted win "
                          "probability and the strongest words."},
    "calls_paste": {"ja": "下に自分の文章を貼り付ける", "en": "Paste your own below"},
    "calls_option": {"ja": "{date} · 通話 {id} · {outcome}", "en": "{date} · call {id} · {outcome}"},
    "calls_won": {"ja": "受注", "en": "won"},
    "calls_lost": {"ja": "失注", "en": "lost"},
    "calls_unknown": {"ja": "結果はまだ出ていません", "en": "outcome not known yet"},
    "calls_call": {"ja": "通話", "en": "Call"},
    "calls_transcript": {"ja": "文字起こし", "en": "Transcript"},
    "calls_probability": {"ja": "受注確率：{p:.0%}", "en": "Win probability: {p:.0%}"},
    "calls_past": {"ja": "過去のすべての通話のうち {rate:.0%} が受注でした。", "en": "Across all past calls, {rate:.0%} were won."},
    "calls_unknown_words": {"ja": "この文章には、モデルが知っている言葉がまだありません。",
                            "en": "No word of this text is known to the model yet."},
    "calls_strongest": {"ja": "この通話で効いている言葉", "en": "Strongest words in this call"},
    # churn
    "churn_heading": {"ja": "離脱しそうなのは誰か、なぜか", "en": "Who is about to leave, and why"},
    "churn_intro": {"ja": "ユーザーの層（プラン、利用の傾向、通知）を選ぶと、過去のユーザーから学習したモデルが、"
                          "翌月アプリを使わなくなりそうな人と、その主な理由を示します。",
                    "en": "Choose a group of users (plan, activity trend, pushes): the model trained on past "
                          "users shows who is likely to stop using the app next month, and the main reasons why."},
    "churn_any": {"ja": "すべて", "en": "All"},
    "churn_plan": {"ja": "プラン", "en": "Plan"},
    "churn_trend": {"ja": "利用の傾向", "en": "Activity trend"},
    "churn_pushes": {"ja": "通知", "en": "Pushes"},
    "churn_nobody": {"ja": "この層のユーザーはいません", "en": "No users in this segment"},
    "churn_widen": {"ja": "条件をゆるめてください。", "en": "Choose a wider segment."},
    "churn_summary": {"ja": "この層 {count:,} 人 · 平均離脱リスク {risk:.0%}",
                      "en": "This segment: {count:,} users · average risk {risk:.0%}"},
    "churn_detail": {"ja": "全ユーザーの平均は {everyone:.0%}（過去の離脱率 {past:.0%}）です。"
                           "リスク {cut:.0%} 以上：<b>{risky:,} 人</b>。",
                     "en": "All users: {everyone:.0%} on average (past churn rate {past:.0%}). "
                           "At risk ({cut:.0%} or more): <b>{risky:,} users</b>."},
    "churn_user": {"ja": "ユーザー", "en": "User"},
    "churn_risk": {"ja": "リスク", "en": "Risk"},
    "churn_reasons": {"ja": "主な理由", "en": "Main reasons"},
    "churn_top": {"ja": "リスクの高い 10 人", "en": "The 10 users most at risk"},
    "churn_reasons_title": {"ja": "リスク {cut:.0%} 以上の人の主な理由", "en": "Main reasons of users at {cut:.0%} risk or more"},
    # product-ordering
    "ordering_heading": {"ja": "次に何を買う？ おすすめエクスプローラー", "en": "What will they buy next? Recommendation explorer"},
    "ordering_intro": {"ja": "お客さまを選ぶと、これまでの購入、おすすめする商品（それぞれ理由つき）、"
                             "そして全員に見せる売れ筋を表示します。",
                       "en": "Choose a customer: see what they bought, the products we would show them "
                             "(each with the reason), and the best-seller list everyone else would see."},
    "ordering_customer": {"ja": "お客さま", "en": "Customer"},
    "ordering_option": {"ja": "お客さま {id} · 注文 {orders} 件", "en": "customer {id} · {orders} orders"},
    "ordering_bought": {"ja": "これまでの購入（新しい順）", "en": "Bought so far (latest first)"},
    "ordering_recommended": {"ja": "このお客さまへのおすすめ", "en": "Recommended for this customer"},
    "ordering_best": {"ja": "売れ筋（全員に見せるもの）", "en": "Best sellers (what everyone sees)"},
    "ordering_date": {"ja": "日付", "en": "Date"},
    "ordering_name": {"ja": "商品", "en": "Product"},
    "ordering_category": {"ja": "カテゴリ", "en": "Category"},
    "ordering_rank": {"ja": "順位", "en": "Rank"},
    "ordering_reason": {"ja": "理由", "en": "Reason"},
    # the reasons `ordering.WhatComesNext` gives (in English): their Japanese, by pattern below
    "reason_signal": {"ja": "{at} の注文に {signal} があり、そうした注文の {share} で次にこれが注文されました",
                      "en": "your order of {at} had {signal}; {share} of such orders were followed by this"},
    "reason_bought": {"ja": "{at} に「{product}」を購入。その購入者の {share} が次にこれを注文しました",
                      "en": "you bought {product} on {at}; {share} of its buyers ordered this next"},
    "reason_best_seller": {"ja": "売れ筋 {place} 位（購入者の {share} が購入）",
                           "en": "best seller #{place} ({share} of shoppers bought it)"},
}

REASON_PATTERNS = {  # text key -> how `ordering.WhatComesNext._reason` writes it
    "reason_signal": re.compile(r"your order of (?P<at>\S+) had (?P<signal>.+); (?P<share>\d+%) of such orders were followed by this"),
    "reason_bought": re.compile(r"you bought (?P<product>.+) on (?P<at>\S+); (?P<share>\d+%) of its buyers ordered this next"),
    "reason_best_seller": re.compile(r"best seller #(?P<place>\d+) \((?P<share>\d+%) of shoppers bought it\)"),
}
PAIR = re.compile(r"\s?/ ")  # "Japanese / English", as `churn.describe` writes a reason
GLOSSED = re.compile(r"(?P<ja>.+?) \((?P<en>[^()]+)\)")  # "Japanese (English)", as churn.REASON_NAMES


def speaker(lang: str | None = None) -> tuple[str, Callable[..., str]]:
    """(the page's language, `say(key, **fields)` in it)."""
    lang = lang or page_language()
    return lang, lambda key, **fields: say(TEXT, key, lang, **fields)


def heading(say: Callable[..., str], theme: str) -> str:
    """The demo's title and one-paragraph introduction, as HTML."""
    return f"<h1>{say(theme + '_heading')}</h1><p>{say(theme + '_intro')}</p>"


def table(frame, columns: dict[str, str], title: str) -> str:
    """A small HTML table (columns renamed to the page's words) that scrolls inside its own box
    when a phone is too narrow for it."""
    shown = frame[list(columns)].rename(columns=columns)
    return (f"<h3>{title}</h3><div class='matsuri-scroll'>"
            + shown.to_html(index=False, classes="matsuri-table", border=0) + "</div>")


def one_language(text: str, lang: str) -> str:
    """A theme helper's two-language text ("ja / en" parts joined by "; ", or "ja (en)") in one."""
    parts = []
    for part in text.split("; "):
        halves = PAIR.split(part, maxsplit=1)
        glossed = GLOSSED.fullmatch(part)
        if len(halves) == 2:
            parts.append(halves[0] if lang == "ja" else halves[1])
        elif glossed:
            parts.append(glossed[lang])
        else:
            parts.append(part)
    return ("、" if lang == "ja" else "; ").join(parts)


def reason(text: str, lang: str) -> str:
    """A recommendation's reason (`ordering`, written in English) in the page's language."""
    for key, pattern in REASON_PATTERNS.items():
        if found := pattern.fullmatch(text):
            return say(TEXT, key, lang, **found.groupdict())
    return text
