//! The status pages in-process: bad `/logs` queries and unknown runbooks get a 4xx page with a
//! one-line reason, every embedded runbook is served, pages answer only GET and HEAD.

mod support;

use support::Server;

const HTML: &str = "text/html; charset=utf-8";

#[tokio::test]
async fn bad_page_requests_get_a_4xx_with_one_line_reasons() {
    let server = Server::builtin().await;
    let cases = [
        (
            "/logs",
            400,
            "use logs?id=N or logs?target=HOST:PORT&amp;module=NAME",
        ),
        (
            "/logs?id=abc",
            400,
            "id &quot;abc&quot; is not a record number",
        ),
        (
            "/logs?id=%zz",
            400,
            "failed to decode query string: bad percent escape",
        ),
        (
            "/logs?id=7",
            404,
            "no record 7: the history keeps the last 100 successes",
        ),
        (
            "/logs?target=a:1&module=tcp_connect",
            404,
            "no record of module &quot;tcp_connect&quot; probing &quot;a:1&quot;",
        ),
        (
            "/runbooks/nope",
            404,
            "there is no runbook named &quot;nope&quot;",
        ),
    ];
    for (path, status, reason) in cases {
        let resp = server.get(path).await;
        assert_eq!(resp.status, status, "{path}: {}", resp.body);
        assert_eq!(resp.header("content-type"), Some(HTML), "{path}");
        assert!(resp.body.contains(reason), "{path}: {}", resp.body);
    }
}

#[tokio::test]
async fn every_runbook_is_served_and_the_index_links_them() {
    let server = Server::builtin().await;
    let index = server.get("/runbooks/").await;
    assert_eq!(index.status, 200);
    for name in handshake_exporter::runbooks::names() {
        let resp = server.get(&format!("/runbooks/{name}")).await;
        assert_eq!(resp.status, 200, "{name}");
        assert!(resp.body.contains("<h1>"), "{name}: {}", resp.body);
        if name != "README" && !name.starts_with("exporter_") {
            assert!(
                index.body.contains(&format!("href=\"{name}\"")),
                "the index does not link {name}"
            );
        }
        let alias = server.get(&format!("/docs/runbooks/{name}.md")).await;
        assert_eq!(alias.status, 200, "{name}");
    }
    let landing = server.get("/").await;
    assert_eq!(landing.status, 200);
    assert!(landing.body.contains("No probe has run yet."));
    assert!(landing.body.contains(r#"href="config#module-tcp_connect""#));
    let config = server.get("/config").await;
    assert!(config.body.contains(r#"<section id="module-tls_connect">"#));
}
