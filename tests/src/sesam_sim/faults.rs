//! Which requests of a node a fault fires on: the method and the path below `/{node}/api` are
//! matched against the fault's optional method (case-insensitive) and path prefix. The queue
//! itself is [`crate::sim_kit::faults`].

use super::model::FaultScope;
use crate::sim_kit::faults::Covers;

pub(crate) use crate::sim_kit::faults::{Armed, Refusal};

/// What a request is, for matching faults.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Scope<'a> {
    /// The HTTP method.
    pub method: &'a str,
    /// The path below `/{node}/api` (`/` for the API root).
    pub path: &'a str,
}

impl Covers<Scope<'_>> for FaultScope {
    fn covers(&self, request: &Scope<'_>) -> bool {
        let method = self.method.as_deref();
        let method = method.is_none_or(|m| m.eq_ignore_ascii_case(request.method));
        let path = self.path_prefix.as_deref();
        method && path.is_none_or(|p| request.path.starts_with(p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sesam_sim::Fault;

    const GET_PIPES: Scope = Scope {
        method: "GET",
        path: "/pipes",
    };
    const PUT_PIPE: Scope = Scope {
        method: "PUT",
        path: "/pipes/p/config",
    };

    #[test]
    fn scoped_faults_fire_only_on_matching_requests_until_spent() {
        let mut armed: Armed<FaultScope> = Armed::default();
        armed.arm(Fault::server_error(2).on_method("put").on_path("/pipes"));
        armed.arm(Fault::throttle(1, 5));
        assert_eq!(armed.take_refusal(&PUT_PIPE), Some(Refusal::ServerError));
        assert_eq!(armed.take_refusal(&GET_PIPES), Some(Refusal::Throttle(5)));
        assert_eq!(armed.take_refusal(&GET_PIPES), None);
        assert_eq!(armed.pending().len(), 1, "one server error is left");
        let env = Scope {
            method: "PUT",
            path: "/env",
        };
        assert_eq!(armed.take_refusal(&env), None, "another path");
        assert_eq!(armed.take_refusal(&PUT_PIPE), Some(Refusal::ServerError));
        assert!(armed.pending().is_empty());
    }
}
