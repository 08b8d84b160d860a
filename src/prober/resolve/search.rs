//! The names a target is tried under (resolv.conf(5) `search`, `ndots`, `no-tld-query`), and the
//! rule that turns the answers of several candidates into one failure class.

use hickory_resolver::proto::rr::Name;

use crate::report::{Failure, FailureClass};

/// The fully qualified names to query for `host`, in order, as glibc's `res_nsearch` and Go's
/// `nameList` build them:
///
/// - a trailing dot means fully qualified: only the name itself;
/// - with at least `ndots` dots the name is tried as given first, then with each search domain;
/// - with fewer dots, each search domain first, then the name as given last (never, for a name
///   without dots, under `no_tld_query`).
///
/// Duplicates and names longer than 255 octets are left out. Returns an empty list only when
/// `host` is not a valid domain name.
pub fn candidates(host: &str, search: &[Name], ndots: usize, no_tld_query: bool) -> Vec<Name> {
    let Ok(mut name) = Name::from_str_relaxed(host) else {
        return Vec::new();
    };
    if host.ends_with('.') {
        return vec![name];
    }
    let dots = host.matches('.').count();
    let as_given = {
        name.set_fqdn(false);
        let mut fqdn = name.clone();
        fqdn.set_fqdn(true);
        fqdn
    };
    let mut list = Vec::with_capacity(search.len() + 1);
    if dots >= ndots {
        list.push(as_given.clone());
    }
    for domain in search {
        if let Ok(full) = name.clone().append_domain(domain) {
            if !list.contains(&full) {
                list.push(full);
            }
        }
    }
    let tld_allowed = dots > 0 || !no_tld_query;
    if dots < ndots && tld_allowed && !list.contains(&as_given) {
        list.push(as_given);
    }
    list
}

/// Whether the search goes on to the next candidate after `failure`.
///
/// A definite negative (NXDOMAIN, NODATA) and SERVFAIL concern that one name, so the next
/// candidate may still exist (glibc `res_nsearch` goes on after them too). Anything else —
/// silence, REFUSED, other rcodes, a local error — would repeat for every candidate, so the
/// search stops there.
pub fn goes_on(failure: &Failure) -> bool {
    matches!(
        failure.class,
        FailureClass::DnsNxdomain | FailureClass::DnsNoRecords | FailureClass::DnsServfail
    )
}

/// The failure of a target none of whose candidates gave an address, from the candidates'
/// failures in query order (at least one).
///
/// The rule keeps the rcode meaningful for the one who reads it: the first failure that is not
/// a definite negative (SERVFAIL, timeout, REFUSED, any error) decides class and detail, since
/// the name might exist where the answer was not definite; when every answer was definite,
/// `dns_no_records` if a candidate exists without an address of the wanted protocol, and
/// `dns_nxdomain` only when every candidate was NXDOMAIN.
pub fn across_candidates(mut failures: Vec<Failure>) -> Failure {
    let definite = |f: &Failure| {
        matches!(
            f.class,
            FailureClass::DnsNxdomain | FailureClass::DnsNoRecords
        )
    };
    if let Some(i) = failures.iter().position(|f| !definite(f)) {
        return failures.swap_remove(i);
    }
    if let Some(i) = failures
        .iter()
        .position(|f| f.class == FailureClass::DnsNoRecords)
    {
        return failures.swap_remove(i);
    }
    failures.swap_remove(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Detail, Phase, Rcode};

    fn names(list: &[Name]) -> Vec<String> {
        list.iter().map(ToString::to_string).collect()
    }

    fn search(domains: &[&str]) -> Vec<Name> {
        domains
            .iter()
            .map(|d| Name::from_str_relaxed(d).expect("a valid name"))
            .map(|mut n| {
                n.set_fqdn(true);
                n
            })
            .collect()
    }

    #[test]
    fn short_name_tries_the_search_list_first() {
        let s = search(&["ns.svc.cluster.local", "svc.cluster.local", "cluster.local"]);
        assert_eq!(
            names(&candidates("my-svc", &s, 5, false)),
            [
                "my-svc.ns.svc.cluster.local.",
                "my-svc.svc.cluster.local.",
                "my-svc.cluster.local.",
                "my-svc."
            ]
        );
    }

    #[test]
    fn enough_dots_tries_the_name_first() {
        let s = search(&["lab.test"]);
        assert_eq!(
            names(&candidates("a.b.example", &s, 2, false)),
            ["a.b.example.", "a.b.example.lab.test."]
        );
        assert_eq!(
            names(&candidates("a.b.example", &s, 3, false)),
            ["a.b.example.lab.test.", "a.b.example."]
        );
    }

    #[test]
    fn trailing_dot_skips_the_list() {
        let s = search(&["lab.test"]);
        assert_eq!(names(&candidates("good.", &s, 5, false)), ["good."]);
    }

    #[test]
    fn no_tld_query_and_duplicates() {
        let s = search(&["lab.test", "lab.test"]);
        assert_eq!(names(&candidates("good", &s, 1, true)), ["good.lab.test."]);
        assert_eq!(
            names(&candidates("good", &s, 1, false)),
            ["good.lab.test.", "good."]
        );
    }

    #[test]
    fn invalid_name_has_no_candidate() {
        let long = "a".repeat(64);
        assert!(candidates(&long, &[], 1, false).is_empty());
    }

    fn f(class: FailureClass, detail: impl Into<Detail>) -> Failure {
        Failure::new(Phase::Resolve, class, detail)
    }

    #[test]
    fn nxdomain_only_when_every_candidate_was() {
        let all = vec![f(FailureClass::DnsNxdomain, Rcode::NxDomain); 3];
        assert_eq!(across_candidates(all).class, FailureClass::DnsNxdomain);
        let nodata = vec![
            f(FailureClass::DnsNxdomain, Rcode::NxDomain),
            f(FailureClass::DnsNoRecords, Rcode::NoError),
        ];
        assert_eq!(across_candidates(nodata).class, FailureClass::DnsNoRecords);
    }

    #[test]
    fn the_first_indefinite_answer_wins() {
        let list = vec![
            f(FailureClass::DnsNxdomain, Rcode::NxDomain),
            f(FailureClass::DnsServfail, Rcode::ServFail),
            f(FailureClass::DnsNoRecords, Rcode::NoError),
            f(FailureClass::Timeout, Detail::None),
        ];
        let got = across_candidates(list);
        assert_eq!(
            (got.class, got.detail),
            (FailureClass::DnsServfail, Detail::Rcode(Rcode::ServFail))
        );
        assert!(goes_on(&f(FailureClass::DnsServfail, Rcode::ServFail)));
        assert!(!goes_on(&f(FailureClass::Timeout, Detail::None)));
        assert!(!goes_on(&f(FailureClass::DnsRefused, Rcode::Refused)));
    }
}
