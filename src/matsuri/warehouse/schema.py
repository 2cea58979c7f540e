"""The learners' warehouse and the organiser-only label store: table names, columns and types.

One declaration serves the generator (column order and types), `matsuri data describe`, the data
cards' consistency test and every consumer that needs to know what a table holds.
"""

from __future__ import annotations

# table -> [(column, DuckDB type)]; the first column is the primary key unless noted.
WAREHOUSE: dict[str, list[tuple[str, str]]] = {
    "users": [
        ("user_id", "BIGINT"),
        ("name", "VARCHAR"),
        ("signup_at", "TIMESTAMP"),
        ("age_band", "VARCHAR"),
        ("gender", "VARCHAR"),
        ("prefecture", "VARCHAR"),
        ("plan", "VARCHAR"),
        ("channel", "VARCHAR"),
        ("churned_at", "TIMESTAMP"),
    ],
    "events": [
        ("event_id", "BIGINT"),
        ("user_id", "BIGINT"),
        ("event_at", "TIMESTAMP"),
        ("event_type", "VARCHAR"),
    ],
    "push_notifications": [
        ("push_id", "BIGINT"),
        ("sent_at", "TIMESTAMP"),
        ("category", "VARCHAR"),
        ("target_segment", "VARCHAR"),
        ("title", "VARCHAR"),
        ("body", "VARCHAR"),
        ("personalized", "BOOLEAN"),
    ],
    "push_deliveries": [
        ("delivery_id", "BIGINT"),
        ("push_id", "BIGINT"),
        ("user_id", "BIGINT"),
        ("delivered_at", "TIMESTAMP"),
        ("opened_at", "TIMESTAMP"),
    ],
    "products": [
        ("product_id", "BIGINT"),
        ("name", "VARCHAR"),
        ("category", "VARCHAR"),
        ("price", "INTEGER"),
        ("launched_at", "TIMESTAMP"),
    ],
    "orders": [
        ("order_id", "BIGINT"),
        ("user_id", "BIGINT"),
        ("ordered_at", "TIMESTAMP"),
        ("total_yen", "BIGINT"),
    ],
    "order_items": [
        ("order_id", "BIGINT"),
        ("line_no", "INTEGER"),
        ("product_id", "BIGINT"),
        ("quantity", "INTEGER"),
        ("unit_price", "INTEGER"),
    ],
    "accounts": [
        ("account_id", "BIGINT"),
        ("company_name", "VARCHAR"),
        ("industry", "VARCHAR"),
        ("employees_band", "VARCHAR"),
        ("prefecture", "VARCHAR"),
    ],
    "sales_reps": [
        ("rep_id", "BIGINT"),
        ("name", "VARCHAR"),
        ("team", "VARCHAR"),
        ("hired_at", "TIMESTAMP"),
    ],
    "sales_calls": [
        ("call_id", "BIGINT"),
        ("account_id", "BIGINT"),
        ("rep_id", "BIGINT"),
        ("called_at", "TIMESTAMP"),
        ("duration_sec", "INTEGER"),
        ("transcript", "VARCHAR"),
        ("outcome", "VARCHAR"),
    ],
    # What the hackathon asks teams to predict: the rows without their labels.
    "holdout_push_deliveries": [
        ("delivery_id", "BIGINT"),
        ("push_id", "BIGINT"),
        ("user_id", "BIGINT"),
        ("delivered_at", "TIMESTAMP"),
    ],
    "holdout_sales_calls": [
        ("call_id", "BIGINT"),
        ("account_id", "BIGINT"),
        ("rep_id", "BIGINT"),
        ("called_at", "TIMESTAMP"),
        ("duration_sec", "INTEGER"),
        ("transcript", "VARCHAR"),
    ],
    "holdout_ordering_users": [
        ("user_id", "BIGINT"),
        ("cutoff_at", "TIMESTAMP"),
    ],
    # churn: users active at the cutoff, half with their outcome (to learn from), half to predict.
    "churn_training_users": [
        ("user_id", "BIGINT"),
        ("cutoff_at", "TIMESTAMP"),
        ("churned", "BOOLEAN"),
    ],
    "holdout_churn_users": [
        ("user_id", "BIGINT"),
        ("cutoff_at", "TIMESTAMP"),
    ],
}

# Primary keys (for checksums, integrity tests and ordering); composite where needed.
PRIMARY_KEYS: dict[str, tuple[str, ...]] = {
    name: (cols[0][0],) for name, cols in WAREHOUSE.items()
} | {"order_items": ("order_id", "line_no")}

# child table.column -> parent table.column
FOREIGN_KEYS: list[tuple[str, str, str, str]] = [
    ("events", "user_id", "users", "user_id"),
    ("push_deliveries", "push_id", "push_notifications", "push_id"),
    ("push_deliveries", "user_id", "users", "user_id"),
    ("holdout_push_deliveries", "push_id", "push_notifications", "push_id"),
    ("holdout_push_deliveries", "user_id", "users", "user_id"),
    ("orders", "user_id", "users", "user_id"),
    ("order_items", "order_id", "orders", "order_id"),
    ("order_items", "product_id", "products", "product_id"),
    ("sales_calls", "account_id", "accounts", "account_id"),
    ("sales_calls", "rep_id", "sales_reps", "rep_id"),
    ("holdout_sales_calls", "account_id", "accounts", "account_id"),
    ("holdout_sales_calls", "rep_id", "sales_reps", "rep_id"),
    ("holdout_ordering_users", "user_id", "users", "user_id"),
    ("churn_training_users", "user_id", "users", "user_id"),
    ("holdout_churn_users", "user_id", "users", "user_id"),
]

# The organiser-only store: hackathon labels and the planted ground truth.
LABELS: dict[str, list[tuple[str, str]]] = {
    "push_open_labels": [("delivery_id", "BIGINT"), ("opened", "BOOLEAN")],
    "call_outcome_labels": [("call_id", "BIGINT"), ("won", "BOOLEAN")],
    "ordering_labels": [
        ("user_id", "BIGINT"),
        ("product_id", "BIGINT"),
        ("first_bought_at", "TIMESTAMP"),
    ],
    "planted_keywords": [
        ("phrase", "VARCHAR"),
        ("keyword", "VARCHAR"),
        ("kind", "VARCHAR"),
        ("effect", "DOUBLE"),
    ],
    "planted_successors": [("product_id", "BIGINT"), ("next_product_id", "BIGINT")],
    "churn_labels": [("user_id", "BIGINT"), ("churned", "BOOLEAN")],
    "build_info": [("key", "VARCHAR"), ("value", "VARCHAR")],
}

HOLDOUT_TABLES = ("holdout_push_deliveries", "holdout_sales_calls", "holdout_ordering_users",
                  "holdout_churn_users")


def create_sql(name: str, columns: list[tuple[str, str]]) -> str:
    cols = ", ".join(f"{col} {typ}" for col, typ in columns)
    return f"CREATE TABLE {name} ({cols})"
