"""Every text of the awards report (`matsuri.hackathon.report`), in Japanese and English."""

from __future__ import annotations

TEXT: dict[str, dict[str, str]] = {
    "title": {"ja": "{event} – 表彰", "en": "{event} – awards"},
    "subtitle": {"ja": "表彰レポート", "en": "Awards report"},
    "winners": {"ja": "受賞チーム", "en": "Winners"},
    "final_ranking": {"ja": "最終順位", "en": "Final ranking"},
    "leaderboard": {"ja": "リーダーボード（private スコア）", "en": "Leaderboard (private scores)"},
    "judges_marks": {"ja": "審査員の採点", "en": "Judges' marks"},
    "teams": {"ja": "チーム紹介", "en": "The teams"},
    "place": {"ja": "{place}位", "en": "No. {place}"},
    "total_short": {"ja": "総合 {total}", "en": "total {total}"},
    "col_place": {"ja": "順位", "en": "Place"},
    "col_team": {"ja": "チーム", "en": "Team"},
    "col_theme": {"ja": "テーマ", "en": "Theme"},
    "col_score": {"ja": "最終スコア（private）", "en": "Final score (private)"},
    "col_theme_place": {"ja": "テーマ内順位", "en": "Place in theme"},
    "col_judged": {"ja": "審査点（0〜1）", "en": "Judges (0 to 1)"},
    "col_total": {"ja": "総合", "en": "Total"},
    "no_submission": {"ja": "提出なし", "en": "No scored submission"},
    "not_judged": {"ja": "未審査", "en": "Not judged"},
    "members": {"ja": "メンバー：{members}", "en": "Members: {members}"},
    "final_submission": {"ja": "最終提出 #{id}（{chosen}）、提出数 {entries}：{metrics}",
                         "en": "Final submission #{id} ({chosen}); submissions made: {entries}; {metrics}"},
    "chosen_selected": {"ja": "チームが選んだ提出", "en": "chosen by the team"},
    "chosen_best_public": {"ja": "public スコアが最も良い提出", "en": "best public score"},
    "no_scored_submission": {"ja": "採点された提出はありません。", "en": "No scored submission."},
    "judged_by": {"ja": "審査（{count} 名：{judges}）：{marks}", "en": "Judging ({count} judges: {judges}): {marks}"},
    "quote": {"ja": "「{note}」", "en": "“{note}”"},
    "method": {
        "ja": "総合点 = {metric_weight} × リーダーボード点 + {rubric_weight} × 審査点です。"
              "リーダーボード点はテーマ内の最終順位を 0〜1 にしたもの（1位 1.0、最下位 0.0）で、"
              "最終提出はチームが選んだ提出（選ばなければ public スコアが最も良い提出）の private スコアです。"
              "審査点は各基準の平均点を重み付きで平均し、採点の幅を 0〜1 にしたものです。",
        "en": "Total = {metric_weight} × leaderboard part + {rubric_weight} × judges' part. The leaderboard "
              "part is the team's final place in its theme turned into 0 to 1 (first 1.0, last 0.0); the "
              "final submission is the one the team chose (else its best public score), scored on the "
              "private part. The judges' part is the weighted mean of the criteria's average marks, "
              "rescaled from the marking scale to 0 to 1.",
    },
    "final_chart": {"ja": "最終順位のグラフ", "en": "Final ranking chart"},
    "leaderboard_chart": {"ja": "リーダーボードのグラフ", "en": "Leaderboard chart"},
    "judges_chart": {"ja": "審査員の採点のグラフ", "en": "Judges' marks chart"},
}
