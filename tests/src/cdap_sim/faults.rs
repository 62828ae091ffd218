//! Which requests a fault fires on: the endpoint a request calls and the app its path names are
//! matched against the fault's optional endpoint and app. The queue itself is
//! [`crate::sim_kit::faults`]; faults on the token endpoints sit in one process-wide queue, the
//! others in their instance's.

use super::model::{Endpoint, FaultScope};
use crate::sim_kit::faults::Covers;

pub(crate) use crate::sim_kit::faults::{Armed, Refusal};

/// What a request is, for matching faults and for the log.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Scope {
    /// The Data Fusion instance the path addresses.
    pub instance: Option<String>,
    /// The API call, when the path is one.
    pub endpoint: Option<Endpoint>,
    /// The app the path names.
    pub app: Option<String>,
}

impl Covers<Scope> for FaultScope {
    fn covers(&self, request: &Scope) -> bool {
        let endpoint = self.endpoint.is_none_or(|e| request.endpoint == Some(e));
        endpoint
            && self
                .app
                .as_ref()
                .is_none_or(|a| request.app.as_ref() == Some(a))
    }
}

/// What a path is: the instance, endpoint and app it addresses.
pub(crate) fn scope(path: &str) -> Scope {
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    match segments.as_slice() {
        ["token"] => google(Endpoint::Token),
        ["v1", "token"] => google(Endpoint::Sts),
        ["v1", "projects", _, "serviceAccounts", _] => google(Endpoint::Impersonate),
        [
            "v1" | "v1beta1",
            "projects",
            _,
            "locations",
            _,
            "instances",
            name,
        ] => Scope {
            instance: Some((*name).to_string()),
            endpoint: Some(Endpoint::Instance),
            app: None,
        },
        ["instances", name, "api", "v3", rest @ ..] => Scope {
            instance: Some((*name).to_string()),
            endpoint: cdap_endpoint(rest),
            app: app_of(rest),
        },
        ["instances", name, ..] => Scope {
            instance: Some((*name).to_string()),
            ..Scope::default()
        },
        _ => Scope::default(),
    }
}

fn google(endpoint: Endpoint) -> Scope {
    Scope {
        endpoint: Some(endpoint),
        ..Scope::default()
    }
}

fn app_of(rest: &[&str]) -> Option<String> {
    match rest {
        ["namespaces", _, "apps", app, ..] => Some((*app).to_string()),
        _ => None,
    }
}

/// The endpoint of a CDAP path below `/v3`.
fn cdap_endpoint(rest: &[&str]) -> Option<Endpoint> {
    let endpoint = match rest {
        ["version"] => Endpoint::Version,
        ["preferences"] | ["namespaces", _, "preferences"] => Endpoint::Preferences,
        ["profiles", ..] | ["namespaces", _, "profiles", ..] => Endpoint::Profiles,
        ["namespaces", _, "start"] => Endpoint::Start,
        ["namespaces", _, "artifacts", ..] => Endpoint::Artifacts,
        ["namespaces", _, "apps", _, "preferences"] => Endpoint::Preferences,
        ["namespaces", _, "apps", _, _, _, "start"] => Endpoint::Start,
        ["namespaces", _, "apps", _, _, _, "runs", ..] => Endpoint::Runs,
        ["namespaces", _, "apps", ..] => Endpoint::Apps,
        ["namespaces"] | ["namespaces", _] | ["namespaces", _, "properties"] => {
            Endpoint::Namespaces
        }
        _ => return None,
    };
    Some(endpoint)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cdap_sim::Fault;

    #[test]
    fn paths_name_their_instance_endpoint_and_app() {
        let base = "/instances/df-dev/api/v3/namespaces/default";
        let run = scope(&format!(
            "{base}/apps/p1/workflows/DataPipelineWorkflow/runs/r1"
        ));
        let expected = Scope {
            instance: Some("df-dev".into()),
            endpoint: Some(Endpoint::Runs),
            app: Some("p1".into()),
        };
        assert_eq!(run, expected);
        let start = scope(&format!("{base}/start")).endpoint;
        assert_eq!(start, Some(Endpoint::Start));
        let prefs = scope(&format!("{base}/apps/p1/preferences")).endpoint;
        assert_eq!(prefs, Some(Endpoint::Preferences));
        let resource = scope("/v1beta1/projects/p/locations/l/instances/df-dev");
        assert_eq!(resource.endpoint, Some(Endpoint::Instance));
        let impersonate = scope("/v1/projects/-/serviceAccounts/a@b.iam:generateAccessToken");
        assert_eq!(impersonate.endpoint, Some(Endpoint::Impersonate));
        assert_eq!(scope("/control/reset"), Scope::default());
    }

    #[test]
    fn app_scoped_faults_fire_only_on_that_app() {
        let mut armed: Armed<FaultScope> = Armed::default();
        armed.arm(Fault::server_error(1).on_app("p1"));
        let other = scope("/instances/i/api/v3/namespaces/default/apps/p2");
        let mine = scope("/instances/i/api/v3/namespaces/default/apps/p1/versions");
        assert_eq!(armed.take_refusal(&other), None);
        assert_eq!(armed.take_refusal(&mine), Some(Refusal::ServerError));
        assert!(armed.pending().is_empty());
    }
}
