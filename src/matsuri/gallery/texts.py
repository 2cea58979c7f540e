"""Every text the gallery's index and rubric pages show, in Japanese and English
(`matsuri.language.say` picks one; the glossary's words in Japanese)."""

from __future__ import annotations

TEXT: dict[str, dict[str, str]] = {
    "index_title": {"ja": "ギャラリー", "en": "Gallery"},
    "rubric_title": {"ja": "審査", "en": "Judging"},
    "board_public": {"ja": "暫定リーダーボード（public スコア）", "en": "Provisional leaderboard (public scores)"},
    "board_final": {"ja": "最終順位（private スコア）", "en": "Final ranking (private scores)"},
    "rubric_link": {"ja": "審査フォーム", "en": "Judging form"},
    "funnel_link": {"ja": "参加ファネル", "en": "Festival funnel"},
    "other_language": {"ja": "English", "en": "日本語"},
    "all_themes": {"ja": "すべてのテーマ", "en": "All themes"},
    "theme_filter": {"ja": "テーマで絞り込む", "en": "Show one theme"},
    "score": {"ja": "{metric} <b>{value}</b>（{rank}位）", "en": "{metric} <b>{value}</b> (rank {rank})"},
    "no_score": {"ja": "まだスコアがありません", "en": "No score yet"},
    "no_sandbox": {"ja": "サンドボックスなしで実行", "en": "run without a sandbox"},
    "open_demo": {"ja": "デモを開く", "en": "Open the demo"},
    "no_demo": {"ja": "デモはありません", "en": "No demo"},
    "leaderboard_chart": {"ja": "リーダーボードのグラフ", "en": "Leaderboard chart"},
    "judge": {"ja": "審査員", "en": "Judge"},
    "judge_placeholder": {"ja": "お名前", "en": "Your name"},
    "team": {"ja": "チーム", "en": "Team"},
    "note": {"ja": "コメント", "en": "Comment"},
    "note_placeholder": {"ja": "チームへのひとこと", "en": "A few words for the team"},
    "save": {"ja": "保存", "en": "Save"},
    "rubric_heading": {"ja": "{event}：審査", "en": "{event}: judging"},
    "rubric_help": {"ja": "各基準を {low}〜{high} で採点してください。保存し直すと上書きされます。",
                    "en": "Mark each criterion from {low} to {high}. Saving again replaces your earlier marks."},
    "progress": {"ja": "{done} / {total} チーム採点済みです。", "en": "{done} of {total} teams marked."},
    "to_do": {"ja": "未採点：{teams}", "en": "Still to mark: {teams}"},
    "all_done": {"ja": "すべてのチームを採点しました。", "en": "Every team is marked."},
    "saved": {"ja": "保存しました（{judge} → {team}、{at}）", "en": "Saved ({judge} → {team}, at {at})"},
}
