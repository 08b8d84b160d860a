//! An opt-in extension of the lab: more routers in a line behind the first one, carrying a "far"
//! prefix that the last of them discards with `blackhole` routes. Path-trace tests use it to see
//! which hops answer ICMP time exceeded and where silence begins.
//!
//! ```text
//!  client — router (hop 1) —n1/p2— router 2 (hop 2) —n2/p3— router 3 ... — last: blackhole
//!                  192.0.2.65/29    192.0.2.66   192.0.2.73/29  192.0.2.74
//!          2001:db8:4:1::1/64 2001:db8:4:1::2  2001:db8:4:2::1  2001:db8:4:2::2
//! ```
//!
//! Linux looks the route up before it checks the TTL (ip_route_input before ip_forward; likewise
//! ip6_route_input before ip6_forward), so the router holding the blackhole route never answers,
//! whatever the TTL: the last hop that answers is the router in front of it.
//!
//! The links use 192.0.2.64/26 and the far target 192.0.2.128/25, both inside the lab's no-route
//! prefix 192.0.2.0/24, which the client already sends to the router; [`super::NOROUTE4`]
//! (192.0.2.1) keeps having no route. IPv6 links are 2001:db8:4:<k>::/64, the far prefix
//! 2001:db8:5::/64, both routed by the client to the router here.

use super::{netns, Lab, CLIENT4, CLIENT6, ROUTER4, ROUTER6};

/// An address in the far IPv4 prefix (192.0.2.128/25), discarded by the chain's last router.
pub const FAR4: &str = "192.0.2.129";
/// An address in the far IPv6 prefix (2001:db8:5::/64), discarded by the chain's last router.
pub const FAR6: &str = "2001:db8:5::1";

/// Most extra routers a chain may have: the links use 192.0.2.64/26, eight /29s.
pub const MAX_EXTRA: usize = 8;

/// The routers added behind the lab's router.
#[derive(Debug, Clone)]
pub struct Chain {
    /// Namespace names of routers 2, 3, ... in path order (router 1 is `lab.router`).
    pub routers: Vec<String>,
}

impl Chain {
    /// The IPv4 address hop `hop` (1 = the lab's router) sends ICMP errors to the client from:
    /// its address on the link toward the client.
    pub fn hop4(hop: usize) -> String {
        match hop {
            0 | 1 => ROUTER4.to_string(),
            k => link4(k - 1).1,
        }
    }

    /// The IPv6 counterpart of [`Chain::hop4`].
    pub fn hop6(hop: usize) -> String {
        match hop {
            0 | 1 => ROUTER6.to_string(),
            k => link6(k - 1).1,
        }
    }
}

/// Addresses of link `k` (between router `k` and router `k + 1`): (router k, router k + 1).
fn link4(k: usize) -> (String, String) {
    let base = 64 + 8 * (k - 1);
    (
        format!("192.0.2.{}", base + 1),
        format!("192.0.2.{}", base + 2),
    )
}

/// IPv6 addresses of link `k`: (router k, router k + 1).
fn link6(k: usize) -> (String, String) {
    (format!("2001:db8:4:{k}::1"), format!("2001:db8:4:{k}::2"))
}

impl Lab {
    /// Adds `extra` routers (1 to [`MAX_EXTRA`]) in a line behind the lab's router and routes
    /// [`FAR4`] / [`FAR6`]'s prefixes along them; the last one holds `blackhole` routes for them.
    /// Returns their names; they are removed with the lab. Call it once per lab; panics when a
    /// command fails.
    pub fn chain(&self, extra: usize) -> Chain {
        assert!(
            (1..=MAX_EXTRA).contains(&extra),
            "a chain has 1 to {MAX_EXTRA} extra routers"
        );
        let routers: Vec<String> = (2..=extra + 1)
            .map(|k| format!("{}rt{k}", self.prefix()))
            .collect();
        for ns in &routers {
            netns::run("ip", &["netns", "add", ns]);
            self.extra_namespaces
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(ns.clone());
            netns::sysctl(ns, &router_sysctls());
        }
        netns::ip_batch(
            &self.client,
            &format!(
                "route add 2001:db8:4::/48 via {ROUTER6}\n\
                 route add 2001:db8:5::/64 via {ROUTER6}\n"
            ),
        );
        // Router k (1-based; router 1 is the lab's) links to router k + 1 and routes far there.
        let all: Vec<&str> = std::iter::once(self.router.as_str())
            .chain(routers.iter().map(String::as_str))
            .collect();
        for (i, pair) in all.windows(2).enumerate() {
            let k = i + 1;
            let (here, next) = (pair[0], pair[1]);
            let ((a4, b4), (a6, b6)) = (link4(k), link6(k));
            let (ia, ib) = (20 + 2 * k, 21 + 2 * k);
            netns::ip_batch(
                here,
                &format!(
                    "link add n{k} index {ia} type veth peer name p{} index {ib} netns {next}\n\
                     addr add {a4}/29 dev n{k}\n\
                     addr add {a6}/64 dev n{k} nodad\n\
                     link set n{k} up\n\
                     route add 192.0.2.128/25 via {b4}\n\
                     route add 2001:db8:5::/64 via {b6}\n",
                    k + 1
                ),
            );
            // Router k + 1: its side of the link, and the way back to the client for ICMP.
            netns::ip_batch(
                next,
                &format!(
                    "link set lo up\n\
                     addr add {b4}/29 dev p{n}\n\
                     addr add {b6}/64 dev p{n} nodad\n\
                     link set p{n} up\n\
                     route add {CLIENT4}/32 via {a4}\n\
                     route add {CLIENT6}/128 via {a6}\n",
                    n = k + 1
                ),
            );
        }
        if let Some(last) = routers.last() {
            netns::ip_batch(
                last,
                "route add blackhole 192.0.2.128/25\n\
                 route add blackhole 2001:db8:5::/64\n",
            );
        }
        Chain { routers }
    }
}

/// The sysctls of an extra router: forwarding on, no DAD, no per-host ICMP rate limit.
fn router_sysctls() -> [(&'static str, &'static str); 7] {
    [
        ("net/ipv6/conf/all/accept_dad", "0"),
        ("net/ipv6/conf/default/accept_dad", "0"),
        ("net/ipv4/icmp_ratelimit", "0"),
        ("net/ipv6/icmp/ratelimit", "0"),
        ("net/ipv4/ip_forward", "1"),
        ("net/ipv4/conf/all/forwarding", "1"),
        ("net/ipv6/conf/all/forwarding", "1"),
    ]
}
