//! The reference domain: the Pinterest data pipeline's pin, geo and user records, their
//! cleaning contract, a generator that emulates the original producer, and the built-in
//! transforms that topology files use (`clean_pin`, `clean_geo`, `clean_user`).

pub mod cleaning;
pub mod generator;
pub mod records;
pub mod short_text;
pub mod tables;

use bytes::Bytes;

use crate::topology::{BYTES, Registry};
use records::{Geo, Pin, User};

pub const PIN: &str = "pinterest.pin";
pub const GEO: &str = "pinterest.geo";
pub const USER: &str = "pinterest.user";

/// Adds the record types and cleaning transforms to a topology-file registry.
pub fn register(registry: &mut Registry) {
    registry.register_table_type::<Pin>(PIN);
    registry.register_table_type::<Geo>(GEO);
    registry.register_table_type::<User>(USER);
    registry.register_fallible_transform(
        "clean_pin",
        BYTES,
        PIN,
        "raw pin JSON -> cleaned pin row (spec/cleaning.md)",
        |raw: Bytes| cleaning::clean_pin_shared(&raw),
    );
    registry.register_fallible_transform(
        "clean_geo",
        BYTES,
        GEO,
        "raw geo JSON -> cleaned geo row",
        |raw: Bytes| cleaning::clean_geo(&raw),
    );
    registry.register_fallible_transform(
        "clean_user",
        BYTES,
        USER,
        "raw user JSON -> cleaned user row",
        |raw: Bytes| cleaning::clean_user(&raw),
    );
}

/// The registry topology files are read with: the framework's built-ins plus this domain.
pub fn registry() -> Registry {
    let mut registry = Registry::with_builtins();
    register(&mut registry);
    registry
}
