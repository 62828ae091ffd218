//! The faults armed on a node and how requests consume them: each request takes one firing of the
//! earliest matching `slow` fault (a delay) and of the earliest matching refusing fault (401, 429
//! or 500); a fault whose count reaches zero is gone.

use super::model::{Fault, FaultKind};

/// What a request is, for matching faults.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Scope<'a> {
    /// The HTTP method.
    pub method: &'a str,
    /// The path below `/{node}/api` (`/` for the API root).
    pub path: &'a str,
}

/// A refusal an armed fault answers with instead of the API.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    Unauthorized,
    Throttle(u64),
    ServerError,
}

/// The armed faults of a node, in arming order.
#[derive(Clone, Debug, Default)]
pub(crate) struct Armed(Vec<Fault>);

impl Armed {
    /// Arms a fault (one with `count` 0 does nothing).
    pub fn arm(&mut self, fault: Fault) {
        if fault.count > 0 {
            self.0.push(fault);
        }
    }

    /// Disarms every fault.
    pub fn clear(&mut self) {
        self.0.clear();
    }

    /// The faults still armed.
    pub fn pending(&self) -> Vec<Fault> {
        self.0.clone()
    }

    /// The delay of the earliest matching `slow` fault, consuming one firing.
    pub fn take_delay(&mut self, scope: Scope) -> Option<u64> {
        match self.take(scope, |k| matches!(k, FaultKind::Slow { .. }))? {
            FaultKind::Slow { millis } => Some(millis),
            _ => None,
        }
    }

    /// The refusal of the earliest matching refusing fault, consuming one firing.
    pub fn take_refusal(&mut self, scope: Scope) -> Option<Refusal> {
        match self.take(scope, |k| !matches!(k, FaultKind::Slow { .. }))? {
            FaultKind::Unauthorized => Some(Refusal::Unauthorized),
            FaultKind::Throttle {
                retry_after_seconds,
            } => Some(Refusal::Throttle(retry_after_seconds)),
            FaultKind::ServerError => Some(Refusal::ServerError),
            FaultKind::Slow { .. } => None,
        }
    }

    fn take(&mut self, scope: Scope, wanted: impl Fn(&FaultKind) -> bool) -> Option<FaultKind> {
        let index = self
            .0
            .iter()
            .position(|f| wanted(&f.kind) && matches(f, scope))?;
        let fault = &mut self.0[index];
        let kind = fault.kind.clone();
        fault.count -= 1;
        if fault.count == 0 {
            self.0.remove(index);
        }
        Some(kind)
    }
}

fn matches(fault: &Fault, scope: Scope) -> bool {
    let method = fault
        .method
        .as_deref()
        .is_none_or(|m| m.eq_ignore_ascii_case(scope.method));
    let path = fault
        .path_prefix
        .as_deref()
        .is_none_or(|p| scope.path.starts_with(p));
    method && path
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let mut armed = Armed::default();
        armed.arm(Fault::server_error(2).on_method("put").on_path("/pipes"));
        armed.arm(Fault::throttle(1, 5));
        armed.arm(Fault::slow(1, 10));
        assert_eq!(armed.take_refusal(PUT_PIPE), Some(Refusal::ServerError));
        assert_eq!(armed.take_refusal(GET_PIPES), Some(Refusal::Throttle(5)));
        assert_eq!(armed.take_refusal(GET_PIPES), None);
        assert_eq!(armed.take_delay(GET_PIPES), Some(10));
        assert_eq!(armed.take_delay(GET_PIPES), None);
        assert_eq!(armed.pending().len(), 1, "one server error is left");
        assert_eq!(armed.take_refusal(PUT_PIPE), Some(Refusal::ServerError));
        assert!(armed.pending().is_empty());
    }
}
