//! Migrations: plans from one schema version to the next (in progress).
