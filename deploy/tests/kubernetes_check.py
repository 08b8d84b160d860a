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
  - no Probe sends a tls_* module to an in-cluster .svc name (its certificate would not match).
Prints one line per check and "N passed, M failed"; exits 1 on any failure. Needs PyYAML.
"""
import os
import re
import sys

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
K8S = os.path.join(ROOT, "deploy", "kubernetes")
OPERATOR = os.path.join(K8S, "prometheus-operator")
results = []


def check(name, ok, why=""):
    results.append(bool(ok))
    print(("ok   " if ok else "FAIL ") + name + ("" if ok or not why else ": " + why))


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


def selects(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


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

    failed = results.count(False)
    print("%d passed, %d failed" % (len(results) - failed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
