#!/usr/bin/env python3
"""Checks deploy/kubernetes as an operator would apply it, without a cluster or kubectl.

Checked:
  - the objects of prometheus-operator/ carry no `release` label themselves: the selector labels
    are set in one place, the `labels:` of its kustomization.yaml (applied to every object,
    selectors untouched), and the PrometheusRule is one of its resources;
  - the image is replaced by kustomization.yaml `images:` with a registry path and a pinned tag
    (never `latest`, which exists in no registry for this project);
  - the memory limit covers the sizing rule of docs/scaling.md ("Memory") for the Deployment's
    --probe.max-concurrency (10000 when absent);
  - a PodDisruptionBudget selects the Deployment's pods and leaves one running (replicas >
    minAvailable >= 1);
  - a NetworkPolicy selects the Deployment's pods, restricts Ingress, and lets in only named
    peers (no empty `from`) on the container's port;
  - no Probe sends a tls_* module to an in-cluster .svc name (its certificate would not match);
  - the https component (HTTPS and basic auth), offered commented in kustomization.yaml and
    applied here as kustomize would (its RFC 6902 patch on the base Deployment): the container
    passes --web.config.file; a read-only volume mounted at that file's directory projects
    web.yml from the component's Secret and every file web.yml names (tls.crt, tls.key) from a
    key of a Secret; the kubelet's probes no longer use httpGet (basic auth would answer 401)
    but still reach the container's port that the Service targets;
  - one overlay per location in deploy/kubernetes-locations (eu, us, ap), applied here as
    kustomize would (nameSuffix, labels on objects and pod templates, the RFC 6902 and delete
    patches): each has one Deployment whose pods carry that region; the Service, the
    PodDisruptionBudget, the NetworkPolicy and the ServiceMonitor select those pods and no other
    location's; the NetworkPolicy still lets in Prometheus' pods whatever their region; the
    Probe goes through that location's Service and gives its series that `region`, as the
    ServiceMonitor gives the exporter's; the PrometheusRule is left to the global server.
Prints one line per check and "N passed, M failed"; exits 1 on any failure. Needs PyYAML.
"""
import os
import re
import sys

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
K8S = os.path.join(ROOT, "deploy", "kubernetes")
OPERATOR = os.path.join(K8S, "prometheus-operator")
HTTPS = os.path.join(K8S, "https")
LOCATIONS = os.path.join(ROOT, "deploy", "kubernetes-locations")
results = []


def check(name, ok, why=""):
    results.append(bool(ok))
    print(("ok   " if ok else "FAIL ") + name + ("" if ok or not why else ": " + str(why)))


def kustomization(path):
    return yaml.safe_load(open(os.path.join(path, "kustomization.yaml")))


def objects(path):
    """Every object of the resources of the kustomization in path: (file, object)."""
    out = []
    for res in kustomization(path).get("resources", []):
        for doc in yaml.safe_load_all(open(os.path.join(path, res))):
            if doc:
                out.append((res, doc))
    return out


def mebibytes(quantity):
    """A Kubernetes memory quantity in MiB (Ki, Mi, Gi, K, M, G suffixes)."""
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(Ki|Mi|Gi|K|M|G)?", str(quantity))
    if not m:
        raise ValueError("unreadable memory quantity %r" % quantity)
    factor = {"Ki": 1 / 1024, "Mi": 1, "Gi": 1024, "K": 1e3 / 2**20, "M": 1e6 / 2**20,
              "G": 1e9 / 2**20, None: 1 / 2**20}[m.group(2)]
    return float(m.group(1)) * factor


def sizing_rule():
    """(factor, idle MB, KB per probe) from docs/scaling.md's memory rule."""
    text = open(os.path.join(ROOT, "docs", "scaling.md")).read()
    m = re.search(r"memory limit = (\d+(?:\.\d+)?) × \((\d+(?:\.\d+)?) MB \+ "
                  r"--probe\.max-concurrency × (\d+(?:\.\d+)?) KB\)", text)
    if not m:
        return None
    return tuple(float(x) for x in m.groups())


def json_patch(doc, ops):
    """doc with the RFC 6902 `add` and `replace` operations applied (the ones kustomize patches
    here use); `-` appends to a list."""
    import copy
    doc = copy.deepcopy(doc)
    for op in ops:
        *parents, last = [p.replace("~1", "/").replace("~0", "~") for p in op["path"].split("/")[1:]]
        node = doc
        for p in parents:
            node = node[int(p)] if isinstance(node, list) else node[p]
        if op["op"] == "add" and isinstance(node, list):
            if last == "-":
                node.append(op["value"])
            else:
                node.insert(int(last), op["value"])
        elif op["op"] in ("add", "replace"):
            if op["op"] == "replace" and last not in node:
                raise KeyError("replace of missing %s" % op["path"])
            node[last] = op["value"]
        else:
            raise ValueError("unsupported patch op %s" % op["op"])
    return doc


def check_https(deployment, service):
    """The https component applied to the base Deployment."""
    base_kust = open(os.path.join(K8S, "kustomization.yaml")).read()
    check("kustomization.yaml offers the https component (commented)",
          re.search(r"^# components:\n#   - https$", base_kust, re.M), "no `# components: / #   - https`")
    comp = kustomization(HTTPS)
    check("https/ is a kustomize Component", comp.get("kind") == "Component", comp.get("kind"))
    secrets = {}
    for res in comp.get("resources", []):
        for doc in yaml.safe_load_all(open(os.path.join(HTTPS, res))):
            if doc and doc["kind"] == "Secret":
                secrets[doc["metadata"]["name"]] = doc
    patched = deployment
    for patch in comp.get("patches", []):
        target = patch.get("target", {})
        if target.get("kind") == "Deployment" and target.get("name") == deployment["metadata"]["name"]:
            patched = json_patch(patched, yaml.safe_load(open(os.path.join(HTTPS, patch["path"]))))
    pod = patched["spec"]["template"]["spec"]
    container = pod["containers"][0]
    web = [a.split("=", 1)[1] for a in container.get("args", []) if a.startswith("--web.config.file=")]
    check("https: the container passes --web.config.file", len(web) == 1, container.get("args"))
    if len(web) != 1:
        return
    web_dir, web_name = os.path.split(web[0])
    mounts = [m for m in container.get("volumeMounts", []) if m["mountPath"].rstrip("/") == web_dir]
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    volume = volumes.get(mounts[0]["name"]) if mounts else None
    check("https: a read-only volume is mounted at %s" % web_dir,
          volume and mounts[0].get("readOnly") is True, "mounts %s" % container.get("volumeMounts"))
    if not volume:
        return
    # path in the directory -> (secret name, key)
    files = {}
    for source in volume.get("projected", {}).get("sources", []):
        sec = source.get("secret")
        for item in (sec or {}).get("items", []):
            files[item["path"]] = (sec["name"], item["key"])
    if "secret" in volume:
        for item in volume["secret"].get("items", []):
            files[item["path"]] = (volume["secret"]["secretName"], item["key"])
    src = files.get(web_name)
    secret = secrets.get(src[0]) if src else None
    text = (secret or {}).get("stringData", {}).get(src[1]) if src else None
    check("https: %s comes from the component's Secret" % web_name, text,
          "files %s, secrets %s" % (files, sorted(secrets)))
    if not text:
        return
    config = yaml.safe_load(text) or {}
    tls = config.get("tls_server_config") or {}
    named = [tls[k] for k in ("cert_file", "key_file", "client_ca_file") if tls.get(k)]
    check("https: web.yml turns HTTPS on and sets basic_auth_users",
          tls.get("cert_file") and tls.get("key_file") and config.get("basic_auth_users"), config)
    for name in named:
        rel = os.path.relpath(os.path.join(web_dir, name), web_dir) if os.path.isabs(name) else name
        check("https: %s (named by web.yml) is projected into %s from a Secret key" % (name, web_dir),
              rel in files, "projected files %s" % sorted(files))
    port_names = {p.get("name"): p["containerPort"] for p in container.get("ports", [])}
    target = service["spec"]["ports"][0]["targetPort"]
    check("https: the Service still targets the container's port",
          target in port_names or target in port_names.values(), "targetPort %s, ports %s" % (target, port_names))
    for kind in ("readinessProbe", "livenessProbe"):
        probe = container.get(kind) or {}
        port = (probe.get("tcpSocket") or {}).get("port")
        check("https: %s does not use httpGet (401 under basic auth) and reaches the port" % kind,
              "httpGet" not in probe and (port in port_names or port in port_names.values()), probe)


def selects(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def overlay(path, base):
    """The objects of base as the location overlay in path makes them: its patches (RFC 6902
    operations and `$patch: delete`, each by target kind), its labels (on every object, and on
    pod templates with includeTemplates) and its nameSuffix (on every name and on the
    ConfigMap a pod mounts)."""
    kust = kustomization(path)
    out = []
    for _, o in base:
        deleted = False
        for patch in kust.get("patches", []):
            if patch.get("target", {}).get("kind") != o["kind"]:
                continue
            body = yaml.safe_load(patch["patch"])
            if isinstance(body, dict) and body.get("$patch") == "delete":
                deleted = True
            else:
                o = json_patch(o, body)
        if deleted:
            continue
        o = json_patch(o, [])
        suffix = kust.get("nameSuffix", "")
        o["metadata"]["name"] += suffix
        for entry in kust.get("labels", []):
            o["metadata"].setdefault("labels", {}).update(entry["pairs"])
            template = o.get("spec", {}).get("template")
            if entry.get("includeTemplates") and template:
                template["metadata"].setdefault("labels", {}).update(entry["pairs"])
        for volume in o.get("spec", {}).get("template", {}).get("spec", {}).get("volumes", []):
            if "configMap" in volume:
                volume["configMap"]["name"] += suffix
        out.append(o)
    return out


def check_locations(base):
    """Every location overlay, each against the others."""
    regions = sorted(d for d in os.listdir(LOCATIONS)
                     if os.path.isfile(os.path.join(LOCATIONS, d, "kustomization.yaml")))
    check("deploy/kubernetes-locations has the overlays eu, us and ap",
          {"eu", "us", "ap"} <= set(regions), regions)
    rendered = {r: overlay(os.path.join(LOCATIONS, r), base) for r in regions}
    for region, objs in rendered.items():
        by_kind = {}
        for o in objs:
            by_kind.setdefault(o["kind"], []).append(o)
        deployments = by_kind.get("Deployment", [])
        check("%s: one Deployment, its pods labelled region %s" % (region, region),
              len(deployments) == 1
              and deployments[0]["spec"]["template"]["metadata"]["labels"].get("region") == region,
              [d["spec"]["template"]["metadata"]["labels"] for d in deployments])
        if len(deployments) != 1:
            continue
        pods = deployments[0]["spec"]["template"]["metadata"]["labels"]
        others = [d["spec"]["template"]["metadata"]["labels"]
                  for r, os_ in rendered.items() if r != region
                  for d in os_ if d["kind"] == "Deployment"]
        selectors = {
            "Deployment": deployments[0]["spec"]["selector"]["matchLabels"],
            "Service": by_kind["Service"][0]["spec"]["selector"],
            "PodDisruptionBudget": by_kind["PodDisruptionBudget"][0]["spec"]["selector"]["matchLabels"],
            "NetworkPolicy": by_kind["NetworkPolicy"][0]["spec"]["podSelector"]["matchLabels"],
        }
        service = by_kind["Service"][0]
        monitor = by_kind["ServiceMonitor"][0]
        selectors["ServiceMonitor (of the Service)"] = monitor["spec"]["selector"]["matchLabels"]
        for kind, selector in selectors.items():
            target = service["metadata"]["labels"] if kind.startswith("ServiceMonitor") else pods
            other = [] if kind.startswith("ServiceMonitor") else others
            check("%s: the %s selects this location's pods only" % (region, kind),
                  selects(selector, target) and not any(selects(selector, o) for o in other),
                  selector)
        peers = [p.get("podSelector", {}).get("matchLabels", {})
                 for rule in by_kind["NetworkPolicy"][0]["spec"]["ingress"] for p in rule["from"]]
        check("%s: the NetworkPolicy lets Prometheus in whatever its region" % region,
              peers and all("region" not in p for p in peers), peers)
        port = service["spec"]["ports"][0]["port"]
        url = "%s.monitoring.svc:%d" % (service["metadata"]["name"], port)
        for probe in by_kind.get("Probe", []):
            check("%s: Probe %s goes through %s" % (region, probe["metadata"]["name"], url),
                  probe["spec"]["prober"]["url"] == url, probe["spec"]["prober"]["url"])
            labels = probe["spec"]["targets"]["staticConfig"].get("labels", {})
            check("%s: Probe %s gives its series region %s" % (region, probe["metadata"]["name"], region),
                  labels.get("region") == region, labels)
        relabel = {r.get("targetLabel"): r.get("replacement")
                   for e in monitor["spec"]["endpoints"] for r in e.get("relabelings", [])}
        check("%s: the ServiceMonitor gives the exporter's series region %s" % (region, region),
              relabel.get("region") == region, relabel)
        check("%s: no PrometheusRule (the rules run on the global server)" % region,
              "PrometheusRule" not in by_kind, sorted(by_kind))


def main():
    base = objects(K8S)
    kinds = {}
    for _, o in base:
        kinds.setdefault(o["kind"], []).append(o)
    deployment = kinds["Deployment"][0]
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    ports = {p.get("name"): p["containerPort"] for p in container.get("ports", [])}

    # ---- selector labels in one place
    kust = kustomization(OPERATOR)
    pairs = {}
    for entry in kust.get("labels", []):
        if entry.get("includeSelectors") is False:
            pairs.update(entry.get("pairs", {}))
    check("prometheus-operator/kustomization.yaml sets the selector labels (labels:, selectors "
          "untouched)", "release" in pairs, "no `release` pair in labels: with includeSelectors: false")
    operator_objects = objects(OPERATOR)
    for res, o in operator_objects:
        own = (o.get("metadata", {}).get("labels") or {})
        check("%s %s: selector labels come from kustomization.yaml only" % (o["kind"], res),
              not set(own) & set(pairs) and "release" not in own, "sets %s itself" % sorted(own))
    check("prometheus-operator ships the PrometheusRule",
          any(o["kind"] == "PrometheusRule" for _, o in operator_objects))

    # ---- image
    images = {i["name"]: i for i in kustomization(K8S).get("images", [])}
    name = container["image"].split(":")[0]
    img = images.get(name, {})
    new_name = img.get("newName", "")
    tag = str(img.get("newTag", ""))
    check("image %s is set in kustomization.yaml images: with a registry and a pinned tag"
          % container["image"],
          "/" in new_name and tag and tag != "latest" and ":" not in container["image"],
          "images: %s" % img)

    # ---- memory
    rule = sizing_rule()
    check("docs/scaling.md states the memory rule", rule is not None,
          'no "memory limit = F × (N MB + --probe.max-concurrency × K KB)"')
    if rule:
        factor, idle_mb, per_probe_kb = rule
        concurrency = 10000
        for arg in container.get("args", []):
            m = re.fullmatch(r"--probe\.max-concurrency=(\d+)", arg)
            if m:
                concurrency = int(m.group(1))
        need_mb = factor * (idle_mb + concurrency * per_probe_kb / 1000)
        limit = container.get("resources", {}).get("limits", {}).get("memory")
        have_mb = mebibytes(limit) * 2**20 / 1e6 if limit else 0
        check("memory limit %s covers %d probes at once (%.0f MB needed)"
              % (limit, concurrency, need_mb), have_mb >= need_mb,
              "%.0f MB < %.0f MB" % (have_mb, need_mb))

    # ---- PodDisruptionBudget
    pdbs = kinds.get("PodDisruptionBudget", [])
    replicas = deployment["spec"].get("replicas", 1)
    check("a PodDisruptionBudget keeps one exporter through drains",
          any(selects(p["spec"]["selector"].get("matchLabels"), pod_labels)
              and 1 <= p["spec"].get("minAvailable", 0) < replicas for p in pdbs),
          "replicas %d, budgets %s" % (replicas, [p["spec"] for p in pdbs]))

    # ---- NetworkPolicy
    policies = kinds.get("NetworkPolicy", [])
    good = False
    for np in policies:
        spec = np["spec"]
        rules = spec.get("ingress", [])
        good = (selects(spec["podSelector"].get("matchLabels"), pod_labels)
                and "Ingress" in spec.get("policyTypes", [])
                and rules
                and all(r.get("from") for r in rules)
                and all(ports.get(p["port"], p["port"]) == ports.get("http")
                        for r in rules for p in r.get("ports", [])))
        if good:
            break
    check("a NetworkPolicy lets only named peers reach the exporter's port", good,
          "policies %s" % [p["spec"] for p in policies])

    # ---- Probes
    for res, o in operator_objects:
        if o["kind"] != "Probe" or not o["spec"].get("module", "").startswith("tls"):
            continue
        static = o["spec"]["targets"].get("staticConfig", {}).get("static", [])
        internal = [t for t in static if re.search(r"\.svc(\.cluster\.local)?\.?(:\d+)?$", t)]
        check("Probe %s: TLS targets are names certificates are issued for" % o["metadata"]["name"],
              not internal, "in-cluster names %s" % internal)

    # ---- HTTPS and basic auth
    check_https(deployment, kinds["Service"][0])

    # ---- one Deployment per location
    check_locations(base + operator_objects)

    failed = results.count(False)
    print("%d passed, %d failed" % (len(results) - failed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
