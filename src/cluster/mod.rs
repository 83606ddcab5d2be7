//! Labs over many hosts (EDIV's successor): the cluster file ([`file`]), where each node goes
//! ([`placement`], pure), the VNIs of nets that cross hosts ([`vni`]), each host's fragment
//! ([`layout`], pure), the files sent with it ([`files`]), and the control channel ([`channel`])
//! to each host's [`agent`]. The operations over hosts and the ledger are `ops::cluster`.

pub mod agent;
pub mod channel;
pub mod file;
pub mod files;
pub mod layout;
pub mod placement;
pub mod vni;
