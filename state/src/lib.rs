//! vnx's recorded state: what vnx built, kept in SQLite.
//!
//! Not written yet: this crate will hold the schema and its migrations, the resources
//! (identity = scenario, kind, name), the apply journal, the history and the lock (see
//! `ARCHITECTURE.md` and issue "The reconciler"). Nothing uses it so far.
