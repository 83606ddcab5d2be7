//! Labs over many hosts (EDIV's successor; issue 17). So far: where each node goes
//! ([`placement`]), a pure function with table tests. The cluster file, the control channel,
//! cross-host nets and the ledger come next.

pub mod agent;
pub mod channel;
pub mod file;
pub mod layout;
pub mod placement;
pub mod vni;
