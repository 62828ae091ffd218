//! Which requests of an organization a fault fires on: the endpoint and the instance the path
//! addresses are matched against the fault's optional endpoint and instance id. The queue itself
//! is [`crate::sim_kit::faults`].

use super::model::{Endpoint, FaultScope};
use crate::sim_kit::faults::Covers;

pub(crate) use crate::sim_kit::faults::{Armed, Refusal};

/// What a request is, for matching faults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Scope {
    /// The API call, when the path is one.
    pub endpoint: Option<Endpoint>,
    /// The instance the path addresses, if any.
    pub instance: Option<i64>,
}

impl Covers<Scope> for FaultScope {
    fn covers(&self, request: &Scope) -> bool {
        let endpoint = self.endpoint.is_none_or(|e| request.endpoint == Some(e));
        endpoint && self.instance_id.is_none_or(|i| request.instance == Some(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oc_sim::Fault;

    const LIST: Scope = Scope {
        endpoint: Some(Endpoint::Instances),
        instance: None,
    };

    fn docs(id: i64) -> Scope {
        Scope {
            endpoint: Some(Endpoint::Docs),
            instance: Some(id),
        }
    }

    #[test]
    fn scoped_faults_fire_only_on_matching_requests_until_spent() {
        let mut armed: Armed<FaultScope> = Armed::default();
        armed.arm(Fault::server_error(2).on_instance(7));
        armed.arm(Fault::throttle(1, 5).on(Endpoint::Instances));
        armed.arm(Fault::slow(1, 10).on(Endpoint::Docs));
        assert_eq!(armed.take_refusal(&docs(8)), None, "another instance");
        assert_eq!(armed.take_refusal(&docs(7)), Some(Refusal::ServerError));
        assert_eq!(armed.take_refusal(&LIST), Some(Refusal::Throttle(5)));
        assert_eq!(armed.take_delay(&LIST), None, "the delay is for docs");
        assert_eq!(armed.take_delay(&docs(8)), Some(10));
        assert_eq!(armed.pending().len(), 1, "one server error is left");
    }
}
