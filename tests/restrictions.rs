//! Target restrictions end to end on loopback: a denied network refuses its literal addresses
//! and a name that resolves into it (`localhost`, from /etc/hosts), with 403, a one-line reason
//! and the counter; an allowed target probes as before.

mod support;

use handshake_exporter::config::Config;
use support::Server;

const CONFIG: &str = "\
restrictions:
  denied_networks: [127.0.0.0/8, '::1/128', 169.254.0.0/16]
modules:
  guarded:
    prober: tcp
  only_lab:
    prober: tcp
    restrictions:
      allowed_names: ['*.lab.test']
";

fn rejected(metrics: &str, reason: &str) -> u64 {
    let prefix = format!("handshake_exporter_probes_rejected_total{{reason=\"{reason}\"}} ");
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {prefix}in\n{metrics}"))
}

#[tokio::test]
async fn denied_network_refuses_addresses_and_names_resolving_into_it() {
    let config = Config::from_yaml_str(CONFIG, "restricted.yml").expect("config");
    let server = Server::start(config, None, 100).await;
    let port = server.addr.port();

    let literal = server
        .get(&format!("/probe?module=guarded&target=127.0.0.1:{port}"))
        .await;
    assert_eq!(literal.status, 403, "{}", literal.body);
    assert_eq!(
        literal.body,
        format!("target 127.0.0.1 refused: 127.0.0.1 is in denied network 127.0.0.0/8\n")
    );
    let metadata = server
        .get("/probe?module=guarded&target=169.254.169.254:80")
        .await;
    assert_eq!(metadata.status, 403, "{}", metadata.body);

    // A name is checked on what it resolves to.
    let name = server
        .get(&format!("/probe?module=guarded&target=localhost:{port}"))
        .await;
    assert_eq!(name.status, 403, "{}", name.body);
    assert!(
        name.body.starts_with("target localhost refused: "),
        "{}",
        name.body
    );
    assert!(name.body.contains("is in denied network"), "{}", name.body);
    assert_eq!(name.body.lines().count(), 1);

    let refused = server
        .get(&format!("/probe?module=only_lab&target=example.org:{port}"))
        .await;
    assert_eq!(refused.status, 403);
    assert_eq!(
        refused.body,
        "target example.org refused: not an allowed name\n"
    );

    let metrics = server.get("/metrics").await.body;
    assert_eq!(rejected(&metrics, "denied_network"), 3);
    assert_eq!(rejected(&metrics, "name_not_allowed"), 1);
    assert_eq!(rejected(&metrics, "concurrency_limit"), 0);
    // Refused targets are not probes: no probe was counted.
    assert!(
        !metrics
            .contains("handshake_exporter_probes_total{module=\"guarded\",result=\"failure\"} 1"),
        "{metrics}"
    );
    server.stop().await.expect("stop");
}

#[tokio::test]
async fn allowed_and_unrestricted_targets_probe_as_before() {
    let config = Config::from_yaml_str(
        "restrictions:\n  denied_networks: [10.0.0.0/8]\nmodules:\n  m:\n    prober: tcp\n",
        "allowed.yml",
    )
    .expect("config");
    let server = Server::start(config, None, 100).await;
    let port = server.addr.port();
    for target in [format!("127.0.0.1:{port}"), format!("localhost:{port}")] {
        let answer = server
            .get(&format!("/probe?module=m&target={target}"))
            .await;
        assert_eq!(answer.status, 200, "{target}: {}", answer.body);
        assert!(
            answer.body.contains("probe_success 1"),
            "{target}: {}",
            answer.body
        );
    }
    server.stop().await.expect("stop");

    let builtin = Server::builtin().await;
    let port = builtin.addr.port();
    let answer = builtin
        .get(&format!(
            "/probe?module=tcp_connect&target=127.0.0.1:{port}"
        ))
        .await;
    assert_eq!(answer.status, 200);
    assert!(answer.body.contains("probe_success 1"));
    builtin.stop().await.expect("stop");
}

#[test]
fn bad_restrictions_are_load_errors_with_position() {
    let err = Config::from_yaml_str(
        "modules:\n  m:\n    prober: tcp\n    restrictions:\n      denied_networks: [300.0.0.0/8]\n",
        "bad.yml",
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.starts_with("bad.yml:5:25: modules.m.restrictions.denied_networks"),
        "{err}"
    );
    assert!(err.contains("is not a CIDR network"), "{err}");
}

#[tokio::test]
async fn recommended_guard_of_config_example_loads_and_refuses_metadata() {
    let example = std::fs::read_to_string("config.example.yml").expect("config.example.yml");
    let guard: String = example
        .lines()
        .skip_while(|l| *l != "# restrictions:")
        .take_while(|l| l.starts_with('#'))
        .map(|l| format!("{}\n", l.strip_prefix("# ").unwrap_or("")))
        .collect();
    assert!(
        guard.contains("denied_networks"),
        "guard not found:\n{guard}"
    );
    let config = Config::from_yaml_str(
        &format!("{guard}modules:\n  m:\n    prober: tcp\n"),
        "guard.yml",
    )
    .unwrap_or_else(|e| panic!("{e}\n{guard}"));
    let server = Server::start(config, None, 100).await;
    let answer = server
        .get("/probe?module=m&target=169.254.169.254:80")
        .await;
    assert_eq!(answer.status, 403, "{}", answer.body);
    server.stop().await.expect("stop");
}
