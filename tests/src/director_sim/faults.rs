//! Which `/graphql` requests a fault fires on: every request, or only mutations. The queue
//! itself is [`crate::sim_kit::faults`].

use super::model::FaultScope;
use super::operation::Operation;
use crate::sim_kit::faults::Covers;

pub(crate) use crate::sim_kit::faults::{Armed, Refusal};

impl Covers<Operation> for FaultScope {
    fn covers(&self, operation: &Operation) -> bool {
        !self.mutations_only || *operation == Operation::Mutation
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::director_sim::Fault;

    #[test]
    fn mutation_only_faults_let_queries_through_until_a_mutation_spends_them() {
        let mut armed: Armed<FaultScope> = Armed::default();
        armed.arm(Fault::server_error(1).mutations_only());
        armed.arm(Fault::throttle(1, 7));
        assert_eq!(
            armed.take_refusal(&Operation::Query),
            Some(Refusal::Throttle(7))
        );
        assert_eq!(armed.take_refusal(&Operation::Query), None);
        assert_eq!(armed.take_refusal(&Operation::Other), None);
        assert_eq!(armed.pending().len(), 1, "the mutation fault is left");
        let refusal = armed.take_refusal(&Operation::Mutation);
        assert_eq!(refusal, Some(Refusal::ServerError));
        assert!(armed.pending().is_empty());
    }
}
