//! Cleaned Pinterest records: one struct per output table (`pin`, `geo`, `user`).
//!
//! Field order matches the column order that `spec/cleaning.md` fixes for each table, so that
//! writers can map fields to columns positionally. Every column except `ind` is nullable because
//! the contract turns placeholders, missing keys and JSON nulls into SQL nulls.

/// One row of the `pin` table (a cleaned `pinterest_data` record).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Pin {
    /// The raw record's `index`, renamed so all three tables join on `ind`.
    pub ind: i32,
    pub unique_id: Option<String>,
    pub title: Option<String>,
    pub description: Option<String>,
    /// "12k" / "3M" / "999" expanded to a plain number.
    pub follower_count: Option<i32>,
    pub poster_name: Option<String>,
    /// Comma-joined tags, kept as the producer sent them.
    pub tag_list: Option<String>,
    pub is_image_or_video: Option<String>,
    pub image_src: Option<String>,
    /// The path only: the "Local save in " prefix is removed.
    pub save_location: Option<String>,
    pub category: Option<String>,
}

/// One row of the `geo` table.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Geo {
    pub ind: i32,
    pub country: Option<String>,
    /// `[latitude, longitude]`, in that order (the contract's array column); each slot is null on
    /// its own when the producer sent no value for it.
    pub coordinates: [Option<f64>; 2],
    /// Microseconds since the Unix epoch, UTC (the resolution of a Delta/Spark timestamp).
    pub timestamp: Option<i64>,
}

/// One row of the `user` table.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct User {
    pub ind: i32,
    /// `first_name + " " + last_name`; null when either part is null (Spark `concat`).
    pub user_name: Option<String>,
    pub age: Option<i32>,
    /// Microseconds since the Unix epoch, UTC.
    pub date_joined: Option<i64>,
}
