"""Every text of the funnel page, its HTML export and its chart, in Japanese and English (the
stages' own names are `compute.STAGES`' `ja` / `en`)."""

from __future__ import annotations

TEXT: dict[str, dict[str, str]] = {
    "funnel": {"ja": "参加ファネル", "en": "Festival funnel"},
    "title": {"ja": "{event} – 参加ファネル", "en": "{event} – festival funnel"},
    "headline": {"ja": "ひと目で", "en": "At a glance"},
    "chart": {"ja": "ファネル", "en": "Funnel"},
    "chart_alt": {"ja": "参加ファネルのグラフ", "en": "Festival funnel chart"},
    "teams": {"ja": "チーム", "en": "Teams"},
    "rules": {"ja": "数え方", "en": "How stages are counted"},
    "share_none": {"ja": "エンジニア以外の参加者がいません（participants.csv の job 列を確認してください）",
                   "en": "No non-engineer participants: check the job column of participants.csv"},
    "share": {"ja": "エンジニア以外の参加者 {people} 人のうち {scored} 人がスコア付きの提出まで到達しました",
              "en": "of {people} non-engineer participants, {scored} reached a scored submission"},
    "median_none": {"ja": "最初のレッスンからスコア付きの提出まで進んだ人はまだいません",
                    "en": "Nobody has gone from a first lesson to a scored submission yet"},
    "median": {"ja": "最初のレッスンから最初のスコア付きの提出までの時間（中央値、{people} 人）",
               "en": "median time from first lesson activity to first scored submission ({people} people)"},
    "hours": {"ja": "{value:.1f} 時間", "en": "{value:.1f} hours"},
    "days": {"ja": "{value:.1f} 日", "en": "{value:.1f} days"},
    "col_team": {"ja": "チーム", "en": "Team"},
    "col_theme": {"ja": "テーマ", "en": "Theme"},
    "col_members": {"ja": "メンバー", "en": "Members"},
    "col_first_scored": {"ja": "最初のスコア付きの提出（{zone}）", "en": "First scored submission ({zone})"},
    "col_best": {"ja": "最高の public スコア", "en": "Best public score"},
    "col_baseline": {"ja": "ベースライン", "en": "Baseline"},
    "col_beat": {"ja": "ベースラインを上回る", "en": "Beat the baseline"},
    "col_demo": {"ja": "デモを披露", "en": "Demo shown"},
    "yes": {"ja": "はい", "en": "yes"},
    "no": {"ja": "いいえ", "en": "no"},
    "not_measured": {"ja": "未測定", "en": "not measured"},
    "no_teams": {"ja": "チームはまだありません", "en": "No teams yet"},
    "rule_registered": {"ja": "参加登録：participants.csv で role が learner の人です。",
                        "en": "Registered: a row of participants.csv with the role learner."},
    "rule_started": {"ja": "コースを開始：そのコースのチェック・ヒント・解答例の記録があるか、レッスンを1つでも提出した人です。",
                     "en": "Started a course: a check, hint or solution of it in their activity log, "
                           "or a lesson of it submitted."},
    "rule_finished": {"ja": "sql-101 を修了：course.toml にあるすべてのレッスンを提出した人です（採点前も含みます）。",
                      "en": "Finished sql-101: every lesson course.toml lists submitted (graded or not)."},
    "rule_team": {"ja": "スコア付きの提出・ベースライン・デモ：所属チームの記録です（ベースラインは event.toml の値と "
                        "public スコアを比べ、デモは審査員が採点したチームです）。",
                  "en": "Scored submission, baseline, demo: their team's (public score against event.toml's "
                        "baseline; demo shown = judges marked the team)."},
    "everyone": {"ja": "全員", "en": "Everyone"},
    "non_engineers": {"ja": "エンジニア以外", "en": "Non-engineers"},
    "people": {"ja": "{count} 人", "en": "{count}"},
    "bar_label": {"ja": "{count} 人（{share:.0f}%）", "en": "{count} ({share:.0f}%)"},
    "share_axis": {"ja": "参加登録した人に対する割合（%）", "en": "Share of those registered (%)"},
}
