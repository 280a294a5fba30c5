//! Risk transmission along the dependency graph: a disrupted port, airport,
//! corridor or supplier passes its disruption to the sites that depend on
//! it, attenuated by each dependency's criticality.
//!
//! The rule: the impact on a site is the largest product of criticalities
//! along any dependency path from a disrupted node (disrupted nodes have
//! impact 1). Criticalities are in 0..=1, so a longer path never raises the
//! impact, and the strongest path is found by a Dijkstra-style search on the
//! product. Each indirect exposure reports that path.

use farguard_model::{Dependency, DependencyKind, Site};
use petgraph::Direction;
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;
use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};

/// One dependency edge: the dependant relies on the source with this weight.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Link {
    pub criticality: f64,
    pub kind: DependencyKind,
}

/// What a node carries for ranking: its value and headcount.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub id: String,
    pub name: String,
    pub value_usd: f64,
    pub headcount: u32,
}

/// A site reached by a disruption, with the strongest path to it.
#[derive(Debug, Clone, PartialEq)]
pub struct Indirect {
    pub site: String,
    /// 0..=1: the share of the site's operation the disruption stops.
    pub impact: f64,
    /// Ids from the disrupted node to this site.
    pub path: Vec<String>,
    /// The criticality and kind of each step of `path`.
    pub steps: Vec<Link>,
}

impl Indirect {
    /// "WPI-1 →(port 0.80) S1 →(supplier 0.50) S2: 40% of operations".
    pub fn reason(&self) -> String {
        let mut s = self.path.first().cloned().unwrap_or_default();
        for (id, l) in self.path.iter().skip(1).zip(&self.steps) {
            s.push_str(&format!(" →({} {:.2}) {id}", l.kind, l.criticality));
        }
        format!(
            "depends on disrupted {}: {s}; {:.0}% of operations at risk",
            self.path.first().map(String::as_str).unwrap_or("?"),
            self.impact * 100.0
        )
    }
}

/// A node whose loss would stop the most, for `graph critical`.
#[derive(Debug, Clone, PartialEq)]
pub struct Critical {
    pub id: String,
    pub name: String,
    /// Sites reached with any impact above the floor.
    pub dependants: usize,
    /// Sites that would stop entirely (impact 1: no alternative).
    pub stops_entirely: usize,
    /// Σ value × impact over the dependants.
    pub value_at_risk_usd: f64,
    /// Σ headcount × impact over the dependants.
    pub headcount_at_risk: f64,
    /// The largest indirect exposures, strongest first.
    pub top: Vec<Indirect>,
}

/// The dependency graph over registered sites (edges point from what is
/// depended on to the dependant).
#[derive(Debug, Default)]
pub struct DependencyGraph {
    g: DiGraph<Node, Link>,
    ids: HashMap<String, NodeIndex>,
}

#[derive(Debug, PartialEq)]
struct Reach(f64, NodeIndex);
impl Eq for Reach {}
impl PartialOrd for Reach {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Reach {
    fn cmp(&self, o: &Self) -> Ordering {
        self.0.total_cmp(&o.0).then_with(|| o.1.cmp(&self.1))
    }
}

impl DependencyGraph {
    /// Builds the graph; dependencies naming an unknown site are skipped
    /// (imports refuse them) and returned so the caller can say so.
    pub fn build(sites: &[Site], deps: &[Dependency]) -> (Self, Vec<Dependency>) {
        let mut me = Self::default();
        let mut skipped = Vec::new();
        let node = |me: &mut Self, s: &Site| {
            let n = me.g.add_node(Node {
                id: s.id.clone(),
                name: s.name.clone(),
                value_usd: s.value_usd.unwrap_or(0.0),
                headcount: s.headcount,
            });
            me.ids.insert(s.id.clone(), n);
        };
        // Only sites that take part in a dependency become nodes.
        let involved: std::collections::HashSet<&str> = deps
            .iter()
            .flat_map(|d| [d.site.as_str(), d.on.as_str()])
            .collect();
        for s in sites.iter().filter(|s| involved.contains(s.id.as_str())) {
            node(&mut me, s);
        }
        for d in deps {
            match (me.ids.get(&d.on), me.ids.get(&d.site)) {
                (Some(&from), Some(&to)) => {
                    me.g.add_edge(
                        from,
                        to,
                        Link {
                            criticality: d.criticality,
                            kind: d.kind,
                        },
                    );
                }
                _ => skipped.push(d.clone()),
            }
        }
        (me, skipped)
    }

    pub fn node_count(&self) -> usize {
        self.g.node_count()
    }
    pub fn edge_count(&self) -> usize {
        self.g.edge_count()
    }

    /// Every site a disruption of `disrupted` reaches with impact at least
    /// `floor` (the disrupted nodes themselves excluded), strongest first,
    /// ties by id.
    pub fn propagate(&self, disrupted: &[&str], floor: f64) -> Vec<Indirect> {
        let n = self.g.node_count();
        let mut best = vec![0.0f64; n];
        let mut prev: Vec<Option<(NodeIndex, Link)>> = vec![None; n];
        let mut heap = BinaryHeap::new();
        let mut sources = vec![false; n];
        for id in disrupted {
            if let Some(&i) = self.ids.get(*id) {
                best[i.index()] = 1.0;
                sources[i.index()] = true;
                heap.push(Reach(1.0, i));
            }
        }
        while let Some(Reach(v, i)) = heap.pop() {
            if v < best[i.index()] {
                continue;
            }
            for e in self.g.edges_directed(i, Direction::Outgoing) {
                let w = v * e.weight().criticality;
                let t = e.target();
                if w > best[t.index()] && w >= floor {
                    best[t.index()] = w;
                    prev[t.index()] = Some((i, *e.weight()));
                    heap.push(Reach(w, t));
                }
            }
        }
        let mut out: Vec<Indirect> = (0..n)
            .filter(|&k| !sources[k] && best[k] > 0.0 && best[k] >= floor)
            .map(|k| {
                let mut path = vec![NodeIndex::new(k)];
                let mut steps = Vec::new();
                let mut cur = NodeIndex::new(k);
                // Every step strictly improved `best`, so this walk reaches a
                // source in at most n steps.
                while let Some((p, l)) = prev[cur.index()] {
                    path.push(p);
                    steps.push(l);
                    cur = p;
                    if path.len() > n {
                        break;
                    }
                }
                path.reverse();
                steps.reverse();
                Indirect {
                    site: self.g[NodeIndex::new(k)].id.clone(),
                    impact: best[k],
                    path: path.iter().map(|&p| self.g[p].id.clone()).collect(),
                    steps,
                }
            })
            .collect();
        out.sort_by(|a, b| {
            b.impact
                .total_cmp(&a.impact)
                .then_with(|| a.site.cmp(&b.site))
        });
        out
    }

    /// Ranks every node that something depends on by what its loss would
    /// stop: value at risk, then headcount at risk, then id.
    pub fn critical(&self, floor: f64, top_paths: usize) -> Vec<Critical> {
        let mut out: Vec<Critical> = self
            .g
            .node_indices()
            .filter(|&i| {
                self.g
                    .edges_directed(i, Direction::Outgoing)
                    .next()
                    .is_some()
            })
            .map(|i| {
                let node = &self.g[i];
                let reached = self.propagate(&[node.id.as_str()], floor);
                let mut c = Critical {
                    id: node.id.clone(),
                    name: node.name.clone(),
                    dependants: reached.len(),
                    stops_entirely: 0,
                    value_at_risk_usd: 0.0,
                    headcount_at_risk: 0.0,
                    top: Vec::new(),
                };
                for r in &reached {
                    let d = &self.g[self.ids[&r.site]];
                    c.value_at_risk_usd += d.value_usd * r.impact;
                    c.headcount_at_risk += f64::from(d.headcount) * r.impact;
                    if r.impact >= 1.0 {
                        c.stops_entirely += 1;
                    }
                }
                c.top = reached.into_iter().take(top_paths).collect();
                c
            })
            .collect();
        out.sort_by(|a, b| {
            b.value_at_risk_usd
                .total_cmp(&a.value_at_risk_usd)
                .then(b.headcount_at_risk.total_cmp(&a.headcount_at_risk))
                .then_with(|| a.id.cmp(&b.id))
        });
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use farguard_model::{CountryCode, Geometry, Point, SiteKind};

    fn site(id: &str, value: f64, headcount: u32) -> Site {
        Site {
            id: id.into(),
            org: "o".into(),
            name: id.into(),
            kind: SiteKind::Project,
            geometry: Geometry::Point(Point::new(0.0, 0.0).unwrap()),
            country: CountryCode::parse("KE").unwrap(),
            sector: None,
            value_usd: Some(value),
            headcount,
            status: "active".into(),
        }
    }
    fn dep(site: &str, on: &str, c: f64) -> Dependency {
        Dependency {
            site: site.into(),
            on: on.into(),
            kind: DependencyKind::Port,
            criticality: c,
        }
    }

    /// PORT feeds MINE (0.8) and PLANT (0.5); MINE supplies PLANT (0.9);
    /// AIR feeds PLANT (1.0). By hand: disrupting PORT gives MINE 0.8 and
    /// PLANT max(0.5, 0.8 × 0.9 = 0.72) = 0.72 through MINE.
    fn fixture() -> DependencyGraph {
        let sites = [
            site("PORT", 0.0, 10),
            site("AIR", 0.0, 5),
            site("MINE", 100.0, 50),
            site("PLANT", 1000.0, 200),
        ];
        let deps = [
            dep("MINE", "PORT", 0.8),
            dep("PLANT", "PORT", 0.5),
            dep("PLANT", "MINE", 0.9),
            dep("PLANT", "AIR", 1.0),
            dep("PLANT", "GHOST", 1.0),
        ];
        let (g, skipped) = DependencyGraph::build(&sites, &deps);
        assert_eq!(skipped.len(), 1, "the dependency on an unknown site");
        g
    }

    #[test]
    fn disruption_takes_the_strongest_path_attenuated_by_criticality() {
        let g = fixture();
        let r = g.propagate(&["PORT"], 0.0);
        assert_eq!(r.len(), 2);
        assert_eq!((r[0].site.as_str(), r[0].impact), ("MINE", 0.8));
        assert_eq!(r[1].site, "PLANT");
        assert!((r[1].impact - 0.72).abs() < 1e-12, "{}", r[1].impact);
        assert_eq!(r[1].path, ["PORT", "MINE", "PLANT"]);
        assert_eq!(
            r[1].reason(),
            "depends on disrupted PORT: PORT →(port 0.80) MINE →(port 0.90) PLANT; 72% of operations at risk"
        );
        // A floor drops weak effects.
        assert_eq!(g.propagate(&["PORT"], 0.75).len(), 1);
        // Nothing depends on PLANT.
        assert!(g.propagate(&["PLANT"], 0.0).is_empty());
    }

    #[test]
    fn critical_ranks_by_value_then_headcount_at_risk() {
        let g = fixture();
        let c = g.critical(0.0, 3);
        let ids: Vec<&str> = c.iter().map(|x| x.id.as_str()).collect();
        // AIR: PLANT × 1.0 = 1000. PORT: MINE 100 × 0.8 + PLANT 1000 × 0.72 = 800.
        // MINE: PLANT × 0.9 = 900.
        assert_eq!(ids, ["AIR", "MINE", "PORT"]);
        assert_eq!(c[0].value_at_risk_usd, 1000.0);
        assert_eq!(c[0].stops_entirely, 1);
        assert!((c[2].value_at_risk_usd - 800.0).abs() < 1e-9);
        assert!((c[2].headcount_at_risk - (50.0 * 0.8 + 200.0 * 0.72)).abs() < 1e-9);
        assert_eq!(c[2].dependants, 2);
    }

    #[test]
    fn cycles_terminate() {
        let sites = [site("A", 1.0, 1), site("B", 1.0, 1)];
        let deps = [dep("A", "B", 1.0), dep("B", "A", 1.0)];
        let (g, _) = DependencyGraph::build(&sites, &deps);
        let r = g.propagate(&["A"], 0.0);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].path, ["A", "B"]);
    }
}
