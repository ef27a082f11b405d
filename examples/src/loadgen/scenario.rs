//! What a simulated user requests: the sample app's endpoints with the locustfile's weights.

use rand::rngs::SmallRng;
use rand::Rng;

/// One endpoint a user may call; `name` is the server's route, so rows line up with server spans.
#[derive(Debug, Clone, Copy)]
pub struct Endpoint {
    pub name: &'static str,
    pub weight: u32,
    /// Builds the path and query of one request.
    pub path: fn(&mut SmallRng) -> String,
}

/// The endpoints of examples/locustfile.py, with the same weights (a unit test keeps the two in step).
pub const SAMPLE_APP: &[Endpoint] = &[
    Endpoint { name: "GET /", weight: 2, path: |_| "/".to_owned() },
    Endpoint { name: "GET /ping", weight: 1, path: |_| "/ping".to_owned() },
    Endpoint { name: "GET /items/{item_id}", weight: 5, path: item_path },
    Endpoint { name: "GET /external-api", weight: 2, path: |_| "/external-api".to_owned() },
    Endpoint { name: "GET /users/{user_id}", weight: 2, path: user_path },
    Endpoint { name: "GET /exception", weight: 1, path: |_| "/exception".to_owned() },
];

/// Item ids span odd and even, so about half of the item requests take the slow path.
fn item_path(rng: &mut SmallRng) -> String {
    format!("/items/{}?q=traced", rng.random_range(1..=100u32))
}

/// Only ids the sample app's database holds: a load run should not count 404s as failures.
fn user_path(rng: &mut SmallRng) -> String {
    format!("/users/{}", rng.random_range(1..=3u32))
}

/// Picks endpoints at random in proportion to their weights.
#[derive(Debug, Clone)]
pub struct Scenario {
    endpoints: Vec<Endpoint>,
    total_weight: u32,
}

impl Scenario {
    /// `None` when no endpoint has a positive weight.
    pub fn new(endpoints: &[Endpoint]) -> Option<Self> {
        let endpoints: Vec<Endpoint> = endpoints.iter().copied().filter(|e| e.weight > 0).collect();
        let total_weight = endpoints.iter().map(|e| e.weight).sum();
        (total_weight > 0).then_some(Self { endpoints, total_weight })
    }

    /// The next request: the endpoint's name and the path (with query) to call.
    pub fn pick(&self, rng: &mut SmallRng) -> (&'static str, String) {
        let mut ticket = rng.random_range(0..self.total_weight);
        for endpoint in &self.endpoints {
            if ticket < endpoint.weight {
                return (endpoint.name, (endpoint.path)(rng));
            }
            ticket -= endpoint.weight;
        }
        // Tickets are below the total weight, so the loop always returns; stay total anyway.
        let last = &self.endpoints[self.endpoints.len() - 1];
        (last.name, (last.path)(rng))
    }
}

impl Default for Scenario {
    fn default() -> Self {
        Self { endpoints: SAMPLE_APP.to_vec(), total_weight: SAMPLE_APP.iter().map(|e| e.weight).sum() }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use rand::SeedableRng;

    use super::*;

    #[test]
    fn picks_follow_the_weights() {
        let scenario = Scenario::default();
        let mut rng = SmallRng::seed_from_u64(7);
        let draws = 13_000;
        let mut counts: HashMap<&str, u32> = HashMap::new();
        for _ in 0..draws {
            *counts.entry(scenario.pick(&mut rng).0).or_default() += 1;
        }
        let total_weight: u32 = SAMPLE_APP.iter().map(|e| e.weight).sum();
        for endpoint in SAMPLE_APP {
            let expected = f64::from(draws * endpoint.weight) / f64::from(total_weight);
            let got = f64::from(counts[endpoint.name]);
            assert!((got - expected).abs() < expected * 0.1, "{}: {got} vs {expected}", endpoint.name);
        }
    }

    #[test]
    fn paths_match_their_routes() {
        let mut rng = SmallRng::seed_from_u64(1);
        for _ in 0..200 {
            let item = item_path(&mut rng);
            let id: u32 = item["/items/".len()..item.len() - "?q=traced".len()].parse().expect("numeric id");
            assert!((1..=100).contains(&id), "{item}");
            let user: u32 = user_path(&mut rng)["/users/".len()..].parse().expect("numeric id");
            assert!((1..=3).contains(&user));
        }
    }

    #[test]
    fn zero_weights_are_never_picked_and_all_zero_is_refused() {
        let only_ping = [Endpoint { weight: 0, ..SAMPLE_APP[0] }, SAMPLE_APP[1]];
        let scenario = Scenario::new(&only_ping).expect("one endpoint has weight");
        let mut rng = SmallRng::seed_from_u64(3);
        assert!((0..100).all(|_| scenario.pick(&mut rng).0 == "GET /ping"));
        assert!(Scenario::new(&[Endpoint { weight: 0, ..SAMPLE_APP[0] }]).is_none());
    }

    /// examples/locustfile.py: `@task(weight)` followed by a request `name="..."`, per task.
    fn locustfile_weights() -> Vec<(String, u32)> {
        let mut weights = Vec::new();
        let mut pending = None;
        for line in include_str!("../../locustfile.py").lines() {
            if let Some(weight) = line.trim().strip_prefix("@task(").and_then(|rest| rest.strip_suffix(')')) {
                pending = Some(weight.parse().expect("a numeric task weight"));
            }
            if let (Some(weight), Some((_, rest))) = (pending, line.split_once("name=\"")) {
                let name = rest.split('"').next().expect("a closing quote");
                weights.push((name.to_owned(), weight));
                pending = None;
            }
        }
        weights
    }

    #[test]
    fn the_locustfile_has_the_same_endpoints_and_weights() {
        let mut ours: Vec<(String, u32)> = SAMPLE_APP.iter().map(|e| (e.name.to_owned(), e.weight)).collect();
        let mut locust = locustfile_weights();
        ours.sort();
        locust.sort();
        assert_eq!(locust, ours);
    }
}
