//! Fault injection every simulator shares: a fault (`unauthorized`, `throttle` with its
//! `Retry-After`, `server_error` or `slow`) fires on the next `count` requests its scope covers,
//! then is gone. Each simulator brings its own scope (the JSON fields that narrow a fault, such
//! as a method or an endpoint) and says which requests it covers; the queue is the same for all:
//! a request takes one firing of the earliest covering `slow` fault (a delay) and one of the
//! earliest covering refusing fault (401, 429 or 500).

use serde::{Deserialize, Serialize};

/// Whether a fault's scope covers a request described as `R`.
pub trait Covers<R> {
    /// True when a fault with this scope fires on `request`.
    fn covers(&self, request: &R) -> bool;
}

/// A fault: `kind` fires on the next `count` requests `scope` covers. In JSON the kind's fields,
/// `count` and the scope's fields sit side by side: `{"fault": "throttle",
/// "retry_after_seconds": 5, "count": 2, ...scope}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fault<S> {
    /// What happens.
    #[serde(flatten)]
    pub kind: FaultKind,
    /// How many covered requests it affects.
    #[serde(default = "one")]
    pub count: u32,
    /// Which requests it affects.
    #[serde(flatten)]
    pub scope: S,
}

/// What an armed fault does to a request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "fault", rename_all = "snake_case")]
pub enum FaultKind {
    /// 401, whatever the credentials.
    Unauthorized,
    /// 429 with `Retry-After: retry_after_seconds`.
    Throttle {
        /// The `Retry-After` value.
        #[serde(default = "one_second")]
        retry_after_seconds: u64,
    },
    /// 500.
    ServerError,
    /// The reply comes `millis` late (and is otherwise normal).
    Slow {
        /// The delay.
        #[serde(default = "one_second_ms")]
        millis: u64,
    },
}

fn one() -> u32 {
    1
}

fn one_second() -> u64 {
    1
}

fn one_second_ms() -> u64 {
    1000
}

impl<S: Default> Fault<S> {
    fn new(kind: FaultKind, count: u32) -> Self {
        let scope = S::default();
        Fault { kind, count, scope }
    }

    /// The next `count` requests get 401.
    pub fn unauthorized(count: u32) -> Self {
        Fault::new(FaultKind::Unauthorized, count)
    }

    /// The next `count` requests get 429 with `Retry-After: retry_after_seconds`.
    pub fn throttle(count: u32, retry_after_seconds: u64) -> Self {
        let kind = FaultKind::Throttle {
            retry_after_seconds,
        };
        Fault::new(kind, count)
    }

    /// The next `count` requests get 500.
    pub fn server_error(count: u32) -> Self {
        Fault::new(FaultKind::ServerError, count)
    }

    /// The next `count` replies come `millis` late.
    pub fn slow(count: u32, millis: u64) -> Self {
        Fault::new(FaultKind::Slow { millis }, count)
    }
}

/// A refusal an armed fault answers with instead of the API.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// 401.
    Unauthorized,
    /// 429 with this `Retry-After`.
    Throttle(u64),
    /// 500.
    ServerError,
}

/// Armed faults, in arming order.
#[derive(Clone, Debug)]
pub struct Armed<S>(Vec<Fault<S>>);

impl<S> Default for Armed<S> {
    fn default() -> Self {
        Armed(Vec::new())
    }
}

impl<S: Clone> Armed<S> {
    /// Arms a fault (one with `count` 0 does nothing).
    pub fn arm(&mut self, fault: Fault<S>) {
        if fault.count > 0 {
            self.0.push(fault);
        }
    }

    /// Disarms every fault.
    pub fn clear(&mut self) {
        self.0.clear();
    }

    /// The faults still armed, with their remaining counts.
    pub fn pending(&self) -> Vec<Fault<S>> {
        self.0.clone()
    }

    /// The delay of the earliest `slow` fault covering `request`, using one firing.
    pub fn take_delay<R>(&mut self, request: &R) -> Option<u64>
    where
        S: Covers<R>,
    {
        match self.take(request, true)? {
            FaultKind::Slow { millis } => Some(millis),
            _ => None,
        }
    }

    /// The refusal of the earliest refusing fault covering `request`, using one firing.
    pub fn take_refusal<R>(&mut self, request: &R) -> Option<Refusal>
    where
        S: Covers<R>,
    {
        match self.take(request, false)? {
            FaultKind::Unauthorized => Some(Refusal::Unauthorized),
            FaultKind::Throttle {
                retry_after_seconds,
            } => Some(Refusal::Throttle(retry_after_seconds)),
            FaultKind::ServerError => Some(Refusal::ServerError),
            FaultKind::Slow { .. } => None,
        }
    }

    fn take<R>(&mut self, request: &R, slow: bool) -> Option<FaultKind>
    where
        S: Covers<R>,
    {
        let applies = |f: &Fault<S>| {
            let is_slow = matches!(f.kind, FaultKind::Slow { .. });
            is_slow == slow && f.scope.covers(request)
        };
        let index = self.0.iter().position(applies)?;
        let fault = &mut self.0[index];
        fault.count -= 1;
        let kind = fault.kind.clone();
        if fault.count == 0 {
            self.0.remove(index);
        }
        Some(kind)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// A scope that narrows a fault to requests at or above a level.
    #[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
    struct Above {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min: Option<u8>,
    }

    impl Covers<u8> for Above {
        fn covers(&self, request: &u8) -> bool {
            self.min.is_none_or(|m| *request >= m)
        }
    }

    fn above(fault: Fault<Above>, min: u8) -> Fault<Above> {
        let scope = Above { min: Some(min) };
        Fault { scope, ..fault }
    }

    #[test]
    fn faults_fire_in_arming_order_on_covered_requests_until_spent() {
        let mut armed = Armed::default();
        armed.arm(above(Fault::server_error(2), 5));
        armed.arm(Fault::throttle(1, 7));
        armed.arm(Fault::slow(1, 10));
        armed.arm(Fault::unauthorized(0));
        assert_eq!(armed.take_refusal(&9), Some(Refusal::ServerError));
        assert_eq!(armed.take_refusal(&1), Some(Refusal::Throttle(7)));
        assert_eq!(armed.take_refusal(&1), None, "the 500 is for 5 and up");
        assert_eq!(armed.take_delay(&1), Some(10));
        assert_eq!(armed.take_delay(&1), None);
        assert_eq!(armed.pending().len(), 1, "one server error is left");
        armed.clear();
        assert_eq!(armed.take_refusal(&9), None);
    }

    #[test]
    fn a_fault_reads_and_writes_its_kind_count_and_scope_side_by_side() {
        let text = json!({"fault": "throttle", "retry_after_seconds": 3, "count": 2, "min": 4});
        let fault: Fault<Above> = serde_json::from_value(text.clone()).unwrap();
        assert_eq!(fault, above(Fault::throttle(2, 3), 4));
        assert_eq!(serde_json::to_value(&fault).unwrap(), text);
        let bare: Fault<Above> = serde_json::from_value(json!({"fault": "slow"})).unwrap();
        assert_eq!(bare, Fault::slow(1, 1000));
        let plain = json!({"fault": "unauthorized", "min": 1});
        let unit: Fault<Above> = serde_json::from_value(plain).unwrap();
        assert_eq!(unit, above(Fault::unauthorized(1), 1));
    }
}
