//! What the simulators (`spark_sim`, `sesam_sim`, `oc_sim`, `director_sim`) share, so each keeps
//! only its own API's logic: fault injection ([`faults`]), the locked world behind a store
//! ([`locked`]), the control API's fault and body helpers ([`control`]), and, for the integration
//! tests, reading answers and running a simulator binary on a seed ([`client`]).

pub mod client;
pub mod control;
pub mod faults;
pub mod locked;
