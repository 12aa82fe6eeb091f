//! Finding, creating and checking a Delta table.

use std::fmt;

use anyhow::{Context, bail};
use deltalake::arrow::datatypes::Schema;
use deltalake::kernel::StructType;
use deltalake::kernel::engine::arrow_conversion::TryIntoKernel;
use deltalake::{DeltaTable, TableProperty};
use url::Url;

/// Where a table lives: a local directory or an object store URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableLocation {
    text: String,
}

impl TableLocation {
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err(
                "is empty; give a directory like \"lake/pin\" or a URL like \"s3://bucket/pin\""
                    .into(),
            );
        }
        if text.contains("://") {
            Url::parse(text).map_err(|error| format!("`{text}` is not a valid URL: {error}"))?;
        }
        Ok(TableLocation {
            text: text.to_owned(),
        })
    }

    /// The URL deltalake wants; creates a local directory if needed.
    pub fn url(&self) -> anyhow::Result<Url> {
        deltalake::ensure_table_uri(&self.text)
            .with_context(|| format!("invalid table location `{}`", self.text))
    }
}

impl fmt::Display for TableLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Loads the table, or `None` if there is none at `location` yet.
pub async fn open_table(location: &TableLocation) -> anyhow::Result<Option<DeltaTable>> {
    let table = DeltaTable::try_from_url(location.url()?)
        .await
        .with_context(|| format!("cannot read the Delta table at {location}"))?;
    Ok(table.version().is_some().then_some(table))
}

/// Opens the table at `location`, creating it with `schema` if absent (and, if given, the
/// columns its log keeps statistics for). An existing table must have exactly these columns:
/// appending under another schema would corrupt it.
pub(super) async fn open_or_create(
    location: &TableLocation,
    name: &str,
    schema: &Schema,
    stats_columns: Option<&[String]>,
) -> anyhow::Result<DeltaTable> {
    let expected: StructType = schema
        .try_into_kernel()
        .context("the record type's schema has no Delta equivalent")?;
    if let Some(table) = open_table(location).await? {
        check_schema(location, &table, &expected)?;
        return Ok(table);
    }
    let table = DeltaTable::try_from_url(location.url()?).await?;
    let mut create = table
        .create()
        .with_table_name(name)
        .with_columns(expected.fields().cloned());
    if let Some(columns) = stats_columns {
        create = create.with_configuration_property(
            TableProperty::DataSkippingStatsColumns,
            Some(columns.join(",")),
        );
    }
    let created = create.await;
    match created {
        Ok(table) => Ok(table),
        // Another writer created it at the same moment: use theirs if it matches.
        Err(error) => match open_table(location).await? {
            Some(table) => {
                check_schema(location, &table, &expected)?;
                Ok(table)
            }
            None => {
                Err(error).with_context(|| format!("cannot create the Delta table at {location}"))
            }
        },
    }
}

fn check_schema(
    location: &TableLocation,
    table: &DeltaTable,
    expected: &StructType,
) -> anyhow::Result<()> {
    let actual = table.snapshot()?.schema();
    let describe = |schema: &StructType| {
        schema
            .fields()
            .map(|f| format!("{} {}", f.name(), f.data_type()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let same = actual.fields().len() == expected.fields().len()
        && actual
            .fields()
            .zip(expected.fields())
            .all(|(a, e)| a.name() == e.name() && a.data_type() == e.data_type());
    if !same {
        bail!(
            "the table at {location} has columns ({}) but this sink writes ({}); \
             write to another table, or move the old one away",
            describe(&actual),
            describe(expected)
        );
    }
    Ok(())
}

/// Rows in the table's current version, from the commit statistics (no data is read);
/// `None` if there is no table.
pub async fn row_count(location: &TableLocation) -> anyhow::Result<Option<u64>> {
    let Some(table) = open_table(location).await? else {
        return Ok(None);
    };
    rows_in(&table).map(Some)
}

/// Rows in an open table's current version, from the commit statistics.
pub fn rows_in(table: &DeltaTable) -> anyhow::Result<u64> {
    Ok(table
        .snapshot()?
        .log_data()
        .into_iter()
        .map(|f| f.num_records().unwrap_or(0) as u64)
        .sum())
}
