"""Checks of the rendered okta-mcp manifests that JSON schemas cannot make (run by deploy/check.sh).

Each argument is one rendered kustomization (base or an overlay). Per rendering:
- one Deployment okta-mcp; any other workload (the replicas overlay's Redis StatefulSet) gets the
  same pod and container checks, and must be reachable only from the okta-mcp pods;
- every volume, ConfigMap, Secret and PersistentVolumeClaim a pod uses exists (or is one the user
  creates: the TLS Secret), with the keys it names; every NAME_FILE variable points at a file a
  mount provides; secrets come from files, never from secretKeyRef;
- the proxy listens on 0.0.0.0:3001 or 0.0.0.0:3443 and is the only okta-mcp container with ports
  (besides, once it exists, the peer port, which no Service exposes); the tool server listens on
  loopback only, never with --allow-non-loopback, and is a native sidecar;
- both okta-mcp containers read IDENTITY_HEADER_KEY from the same Secret key;
- the proxy's state survives a restart: STORE_URL (Redis, with REDIS_PASSWORD_FILE, no password
  in the URL, a bundled host that is a rendered Service port), or else STATE_DIR on a writable
  PersistentVolumeClaim mount; more than one replica needs STORE_URL, and a ReadWriteOnce claim
  needs strategy Recreate (a rolling update would wait forever for the volume);
- every container: non-root, no privilege escalation, read-only root, all capabilities dropped,
  seccomp RuntimeDefault, memory request and limit, CPU request, a liveness probe; the okta-mcp
  probes the README promises, other containers a readiness probe too; a grace period longer
  than the preStop sleep plus the proxy's 3 s drain;
- every Service, PodDisruptionBudget and NetworkPolicy selects a rendered pod; Services and
  NetworkPolicies name ports those pods declare; a StatefulSet's serviceName is a headless
  Service that selects it.
Once: the policy copies under deploy/k8s equal policies/, the secrets templates (every
secrets.env.example) name exactly the secrets the pods use, and, when the binaries are built,
every command line (container and exec probe) parses with the real binaries and every
environment variable set (or suggested in settings.env) is one they read.
"""

import argparse
import filecmp
import glob
import ipaddress
import os
import re
import subprocess
import sys
from urllib.parse import urlsplit

import yaml

PROXY, TOOL_SERVER = "proxy", "tool-server"
APP = "okta-mcp"
# Secrets the user creates outside kustomize (overlays/ingress and overlays/proxy-tls; the
# service app's PEM key of overlays/enterprise, which an env file cannot hold).
EXTERNAL_SECRETS = {
    "okta-mcp-tls": {"tls.crt", "tls.key"},
    "okta-mcp-service-app": {"OKTA_SERVICE_KEY"},
}
# Settings that name a file but hold no secret (so no secrets.env.example names them).
PLAIN_FILE_SETTINGS = {"CLIENTS_FILE", "ROLES_FILE", "POLICY_FILE"}
POLICY_COPIES = {
    "deploy/k8s/base/policies/roles.toml": "policies/roles.toml",
    "deploy/k8s/base/policies/okta-tools.toml": "policies/okta-tools.toml",
    "deploy/k8s/overlays/wrap/policies/everything.toml": "policies/everything.toml",
}
PROXY_DRAIN_SECS = 3
PEER_PORT_NAME = "peer"
BINARIES = ("okta-mcp-proxy", "okta-mcp-tool-server")
# Read by the runtime libraries rather than by our flags, so absent from --help.
RUNTIME_VARIABLES = {"TOKIO_WORKER_THREADS"}
# A volume only one node (or pod) can mount: a Deployment using one must not roll with surge.
SINGLE_WRITER_MODES = {"ReadWriteOnce", "ReadWriteOncePod"}

errors = []


def fail(where, message):
    errors.append(f"{where}: {message}")


def flag_value(argv, flag):
    """The value after `flag` in argv (before any `--`), or None."""
    head = argv[: argv.index("--")] if "--" in argv else argv
    for i, arg in enumerate(head):
        if arg == flag and i + 1 < len(head):
            return head[i + 1]
        if arg.startswith(flag + "="):
            return arg.split("=", 1)[1]
    return None


def host_of(addr):
    host = addr.rsplit(":", 1)[0].strip("[]")
    return ipaddress.ip_address(host)


def selects(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def pod_labels(workload):
    return workload["spec"]["template"]["metadata"].get("labels", {})


def all_containers(pod):
    return pod.get("initContainers", []) + pod.get("containers", [])


def declared_ports(workload):
    """containerPort -> name, over every container of the workload's pod."""
    return {p["containerPort"]: p.get("name") for c in all_containers(workload["spec"]["template"]["spec"])
            for p in c.get("ports", [])}


def port_declared(port, ports):
    return port in ports or port in ports.values()


def check_pod(where, workload, configmaps, secrets, pvcs):
    """Checks every pod must pass; returns {container name: {file path: (kind, object, key)}}."""
    pod = workload["spec"]["template"]["spec"]
    pod_security = pod.get("securityContext", {})
    if pod_security.get("runAsNonRoot") is not True:
        fail(where, "pod securityContext.runAsNonRoot is not true")
    if pod_security.get("seccompProfile", {}).get("type") != "RuntimeDefault":
        fail(where, "pod securityContext.seccompProfile is not RuntimeDefault")
    if pod.get("automountServiceAccountToken") is not False:
        fail(where, "automountServiceAccountToken is not false")

    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    claim_templates = {t["metadata"]["name"] for t in workload["spec"].get("volumeClaimTemplates", [])}
    for volume in volumes.values():
        claim = volume.get("persistentVolumeClaim", {}).get("claimName")
        if claim is not None and claim not in pvcs:
            fail(where, f"volume {volume['name']} uses PersistentVolumeClaim {claim}, which is not rendered")

    # Volumes and what they provide: mount path + file -> (kind, object, key).
    def provided_files(container):
        files = {}
        for mount in container.get("volumeMounts", []):
            volume = volumes.get(mount["name"])
            if volume is None:
                if mount["name"] not in claim_templates:
                    fail(where, f"{container['name']} mounts volume {mount['name']}, which is not declared")
                continue
            for kind, store, ref in (("ConfigMap", configmaps, "configMap"), ("Secret", secrets, "secret")):
                if ref not in volume:
                    continue
                obj_name = volume[ref].get("name") or volume[ref].get("secretName")
                obj = store.get(obj_name)
                if obj is None:
                    fail(where, f"volume {mount['name']} uses {kind} {obj_name}, which is not rendered")
                    continue
                keys = set(obj.get("data", {})) | set(obj.get("stringData", {}))
                items = volume[ref].get("items") or [{"key": k, "path": k} for k in keys]
                for item in items:
                    if item["key"] not in keys:
                        fail(where, f"volume {mount['name']}: {kind} {obj_name} has no key {item['key']}")
                    files[os.path.join(mount["mountPath"], item["path"])] = (kind, obj_name, item["key"])
                if ref == "secret" and volume[ref].get("defaultMode", 0o644) & 0o007:
                    fail(where, f"volume {mount['name']}: Secret files are readable by others")
        return files

    files_by_container = {}
    for container in all_containers(pod):
        cwhere = f"{where} container {container['name']}"
        files = files_by_container[container["name"]] = provided_files(container)
        for source in container.get("envFrom", []):
            ref = source.get("configMapRef") or source.get("secretRef")
            store = configmaps if "configMapRef" in source else secrets
            if ref["name"] not in store:
                fail(cwhere, f"envFrom {ref['name']} is not rendered")
        for env in container.get("env", []):
            if env["name"].endswith("_FILE") and env.get("value") not in files:
                fail(cwhere, f"{env['name']}={env.get('value')} is not a file any mount provides")
            if "secretKeyRef" in env.get("valueFrom", {}):
                fail(cwhere, f"{env['name']}: secrets are read from files (NAME_FILE), not secretKeyRef")

        security = container.get("securityContext", {})
        if security.get("allowPrivilegeEscalation") is not False:
            fail(cwhere, "allowPrivilegeEscalation is not false")
        if security.get("readOnlyRootFilesystem") is not True:
            fail(cwhere, "readOnlyRootFilesystem is not true")
        if "ALL" not in security.get("capabilities", {}).get("drop", []):
            fail(cwhere, "capabilities do not drop ALL")
        if security.get("runAsUser") == 0 or security.get("privileged"):
            fail(cwhere, "runs as root or privileged")
        resources = container.get("resources", {})
        for path in ("requests.cpu", "requests.memory", "limits.memory"):
            section, key = path.split(".")
            if key not in resources.get(section, {}):
                fail(cwhere, f"no resources.{path}")
        if not container.get("livenessProbe"):
            fail(cwhere, "no livenessProbe")
    return files_by_container


def check_okta_mcp(name, deployment, files_by_container, configmaps, pvcs, services, commands, env_names):
    """The okta-mcp pod: its two containers, listeners, identity key, state and probes."""
    pod = deployment["spec"]["template"]["spec"]
    where = f"{name}: Deployment {APP}"
    containers = {c["name"]: c for c in pod.get("containers", [])}
    init = {c["name"]: c for c in pod.get("initContainers", [])}
    if set(containers) != {PROXY} or set(init) != {TOOL_SERVER}:
        fail(where, f"expected containers [proxy] and initContainers [tool-server], found "
                    f"{sorted(containers)} and {sorted(init)}")
        return
    proxy, tool = containers[PROXY], init[TOOL_SERVER]
    if tool.get("restartPolicy") != "Always":
        fail(where, "tool-server is not a native sidecar (restartPolicy: Always)")

    identity_sources = []
    for container in (proxy, tool):
        cwhere = f"{where} container {container['name']}"
        files = files_by_container[container["name"]]
        for source in container.get("envFrom", []):
            ref = source.get("configMapRef")
            if ref and ref["name"] in configmaps:
                env_names.update((configmaps[ref["name"]].get("data") or {}).keys())
        # Variables only there to be expanded into others ($(POD_IP)) are read by Kubernetes.
        expanded = set(re.findall(r"\$\(([A-Z][A-Z0-9_]*)\)", yaml.safe_dump(container)))
        for env in container.get("env", []):
            if env["name"] not in expanded:
                env_names.add(env["name"])
            if env["name"] == "IDENTITY_HEADER_KEY_FILE" and env.get("value") in files:
                identity_sources.append(files[env["value"]])
        argv = container.get("command", []) + container.get("args", [])
        commands.append((cwhere, argv))
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            exec_ = container.get(probe, {}).get("exec")
            if exec_:
                commands.append((f"{cwhere} {probe}", exec_["command"]))

    if len(identity_sources) != 2 or identity_sources[0] != identity_sources[1]:
        fail(where, f"proxy and tool-server do not read IDENTITY_HEADER_KEY from one Secret key: {identity_sources}")

    # Listeners.
    proxy_argv = proxy.get("command", []) + proxy.get("args", [])
    listeners = []
    if "--no-plain" not in proxy_argv:
        listeners.append(flag_value(proxy_argv, "--listen"))
    if flag_value(proxy_argv, "--tls-listen"):
        listeners.append(flag_value(proxy_argv, "--tls-listen"))
    all_ports = {p["containerPort"]: p.get("name") for p in proxy.get("ports", [])}
    peer = {n: p for n, p in all_ports.items() if p == PEER_PORT_NAME}
    ports = {n: p for n, p in all_ports.items() if p != PEER_PORT_NAME}
    for addr in listeners:
        if not addr or not addr.startswith("0.0.0.0:"):
            fail(where, f"proxy listens on {addr!r}: inside a pod it must be 0.0.0.0:PORT")
        elif int(addr.rsplit(":", 1)[1]) not in ports:
            fail(where, f"proxy listens on {addr} but declares ports {sorted(ports)}")
    if len(ports) != 1 or not set(ports) <= {3001, 3443}:
        fail(where, f"proxy should expose exactly one port (3001, or 3443 with TLS), has {sorted(ports)}")
    tool_argv = tool.get("command", []) + tool.get("args", [])
    listen = flag_value(tool_argv, "--listen")
    if listen is None or not host_of(listen).is_loopback:
        fail(where, f"tool-server --listen {listen!r} is not a loopback address")
    if "--allow-non-loopback" in tool_argv[: tool_argv.index("--") if "--" in tool_argv else None]:
        fail(where, "tool-server runs with --allow-non-loopback")
    if tool.get("ports"):
        fail(where, "tool-server declares ports: it must be reachable only from the pod")
    upstream = flag_value(proxy_argv, "--upstream") or "http://127.0.0.1:3002/mcp"
    if listen and upstream != f"http://{listen}/mcp":
        fail(where, f"proxy --upstream {upstream} does not point at the tool server's {listen}")

    # The proxy's effective environment: its ConfigMaps, then its own env.
    proxy_env = {}
    for source in proxy.get("envFrom", []):
        ref = source.get("configMapRef")
        if ref and ref["name"] in configmaps:
            proxy_env.update(configmaps[ref["name"]].get("data") or {})
    proxy_env.update({e["name"]: e.get("value") for e in proxy.get("env", [])})
    for number, _ in peer.items():
        if proxy_env.get("PEER_LISTEN") != f"0.0.0.0:{number}":
            fail(where, f"proxy declares peer port {number} but PEER_LISTEN is {proxy_env.get('PEER_LISTEN')!r}")
    for svc_name, svc in services.items():
        if selects(svc["spec"].get("selector"), pod_labels(deployment)):
            for port in svc["spec"].get("ports", []):
                if port.get("targetPort") in (PEER_PORT_NAME, *peer):
                    fail(name, f"Service {svc_name} exposes the proxy's peer port: only replicas may reach it")

    # State: in Redis, or on a volume that outlives the pod.
    replicas = deployment["spec"].get("replicas", 1)
    strategy = deployment["spec"].get("strategy", {}).get("type", "RollingUpdate")
    store_url, state_dir = proxy_env.get("STORE_URL"), proxy_env.get("STATE_DIR")
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    claims = {v["name"]: pvcs.get(v["persistentVolumeClaim"]["claimName"])
              for v in volumes.values() if "persistentVolumeClaim" in v}
    if store_url:
        url = urlsplit(store_url)
        if url.scheme not in ("redis", "rediss") or not url.hostname:
            fail(where, f"STORE_URL={store_url} is not redis://HOST:PORT or rediss://HOST:PORT")
        elif url.password:
            fail(where, "STORE_URL carries a password (a ConfigMap is not secret): use REDIS_PASSWORD_FILE")
        elif "." not in url.hostname:
            service = services.get(url.hostname)
            if service is None or (url.port or 6379) not in [p["port"] for p in service["spec"].get("ports", [])]:
                fail(where, f"STORE_URL={store_url}: no rendered Service {url.hostname} with port {url.port or 6379}")
        if "REDIS_PASSWORD_FILE" not in proxy_env:
            fail(where, "STORE_URL without REDIS_PASSWORD_FILE: a Redis holding every login needs a password")
        if state_dir:
            fail(where, f"both STORE_URL and STATE_DIR={state_dir}: the state dir would be unused")
    elif replicas > 1:
        fail(where, f"{replicas} replicas without STORE_URL: each pod would keep a state of its own")
    elif not state_dir or state_dir == "none":
        setting = f"STATE_DIR={state_dir}" if state_dir else "no STATE_DIR (its default is on the read-only root)"
        fail(where, f"{setting} and no STORE_URL: the proxy's state would not survive a restart")
    else:
        mounts = [m for m in proxy.get("volumeMounts", [])
                  if state_dir == m["mountPath"] or state_dir.startswith(m["mountPath"].rstrip("/") + "/")]
        if not mounts or mounts[-1]["name"] not in claims or mounts[-1].get("readOnly"):
            fail(where, f"STATE_DIR={state_dir} is not on a writable PersistentVolumeClaim mount")
    for volume, claim in claims.items():
        if claim and SINGLE_WRITER_MODES & set(claim["spec"].get("accessModes", [])):
            if replicas > 1 or strategy != "Recreate":
                fail(where, f"volume {volume} is {claim['spec']['accessModes']}: needs replicas 1 and "
                            f"strategy Recreate (has {replicas} and {strategy}), or a new pod never gets it")

    # Probes and termination.
    readiness = proxy.get("readinessProbe", {}).get("httpGet", {})
    liveness = proxy.get("livenessProbe", {}).get("httpGet", {})
    if readiness.get("path") != "/ready" or liveness.get("path") != "/health":
        fail(where, "proxy probes: readiness must GET /ready and liveness /health")
    for probe in (readiness, liveness):
        if probe and not port_declared(probe.get("port"), ports):
            fail(where, f"proxy probe port {probe.get('port')} is not a declared port")
    pre_stop = proxy.get("lifecycle", {}).get("preStop", {}).get("sleep", {}).get("seconds", 0)
    grace = pod.get("terminationGracePeriodSeconds", 30)
    if grace < pre_stop + PROXY_DRAIN_SECS + 2:
        fail(where, f"terminationGracePeriodSeconds {grace} < preStop {pre_stop} s + drain {PROXY_DRAIN_SECS} s + 2 s")


def check_rendering(name, docs, commands, env_names):
    by_kind = {}
    for doc in docs:
        by_kind.setdefault(doc["kind"], {})[doc["metadata"]["name"]] = doc
    configmaps, secrets = by_kind.get("ConfigMap", {}), dict(by_kind.get("Secret", {}))
    for secret, keys in EXTERNAL_SECRETS.items():
        secrets.setdefault(secret, {"data": dict.fromkeys(keys, "")})
    pvcs, services = by_kind.get("PersistentVolumeClaim", {}), by_kind.get("Service", {})
    deployments = by_kind.get("Deployment", {})
    if list(deployments) != [APP]:
        fail(name, f"expected one Deployment {APP}, found {sorted(deployments)}")
        return
    workloads = {f"{kind} {n}": w for kind in ("Deployment", "StatefulSet") for n, w in by_kind.get(kind, {}).items()}
    app = deployments[APP]

    for wname, workload in workloads.items():
        files = check_pod(f"{name}: {wname}", workload, configmaps, secrets, pvcs)
        if workload is app:
            check_okta_mcp(name, app, files, configmaps, pvcs, services, commands, env_names)
            continue
        for container in all_containers(workload["spec"]["template"]["spec"]):
            if not container.get("readinessProbe"):
                fail(f"{name}: {wname} container {container['name']}", "no readinessProbe")
        # A backing service bundled for the proxy (Redis) answers the okta-mcp pods and no one else.
        guards = [p for p in by_kind.get("NetworkPolicy", {}).values()
                  if selects(p["spec"]["podSelector"].get("matchLabels"), pod_labels(workload))
                  and "Ingress" in p["spec"].get("policyTypes", ["Ingress"])]
        sources = [peer for p in guards for rule in p["spec"].get("ingress", []) for peer in rule.get("from", [None])]
        if not guards or not all(peer and set(peer) == {"podSelector"}
                                 and selects(peer["podSelector"].get("matchLabels"), pod_labels(app))
                                 for peer in sources):
            fail(f"{name}: {wname}", f"no NetworkPolicy that lets only the {APP} pods reach it")
        if workload["kind"] == "StatefulSet":
            governing = services.get(workload["spec"].get("serviceName"))
            if not governing or governing["spec"].get("clusterIP") != "None" \
                    or not selects(governing["spec"].get("selector"), pod_labels(workload)):
                fail(f"{name}: {wname}", "serviceName is not a rendered headless Service that selects it")

    # Selectors and ports.
    def selected(selector):
        return [w for w in workloads.values() if selects(selector, pod_labels(w))]

    for svc_name, svc in services.items():
        pods = selected(svc["spec"].get("selector"))
        if not pods:
            fail(name, f"Service {svc_name} selects no rendered pod")
        for port in svc["spec"].get("ports", []):
            target = port.get("targetPort", port["port"])
            if not any(port_declared(target, declared_ports(w)) for w in pods):
                fail(name, f"Service {svc_name} targets port {target}, which the pods it selects do not declare")
    pdbs = by_kind.get("PodDisruptionBudget", {})
    if not any(app in selected(p["spec"]["selector"].get("matchLabels")) for p in pdbs.values()):
        fail(name, f"no PodDisruptionBudget selecting the {APP} pod")
    for pdb_name, pdb in pdbs.items():
        if not selected(pdb["spec"]["selector"].get("matchLabels")):
            fail(name, f"PodDisruptionBudget {pdb_name} selects no rendered pod")
    for np_name, policy in by_kind.get("NetworkPolicy", {}).items():
        pods = selected(policy["spec"]["podSelector"].get("matchLabels"))
        if not pods:
            fail(name, f"NetworkPolicy {np_name} selects no rendered pod")
        for rule in policy["spec"].get("ingress", []):
            for peer in rule.get("from", []):
                if set(peer) == {"podSelector"} and not selected(peer["podSelector"].get("matchLabels")):
                    fail(name, f"NetworkPolicy {np_name} admits pods that are not rendered: {peer}")
            for port in rule.get("ports", []):
                # A number may be a port that nothing declares yet (the peer port); a name must exist.
                if isinstance(port.get("port"), str) and not all(
                        port_declared(port["port"], declared_ports(w)) for w in pods):
                    fail(name, f"NetworkPolicy {np_name} names port {port['port']}, not declared by every pod it selects")
    for ing_name, ing in by_kind.get("Ingress", {}).items():
        for rule in ing["spec"].get("rules", []):
            for path in rule.get("http", {}).get("paths", []):
                backend = path["backend"]["service"]
                if backend["name"] not in services:
                    fail(name, f"Ingress {ing_name} sends to Service {backend['name']}, which is not rendered")


def help_text(binary, *args):
    result = subprocess.run([binary, *args, "--help"], capture_output=True, text=True, timeout=20,
                            env={"PATH": os.environ.get("PATH", "")})
    return result.returncode, result.stdout + result.stderr


def check_against_binaries(bin_dir, commands, env_names, settings_file):
    paths = {name: os.path.join(bin_dir, name) for name in BINARIES}
    if not all(os.access(p, os.X_OK) for p in paths.values()):
        print(f"      (skipped: command lines against the binaries; build them into {bin_dir} first)")
        return
    known = set(RUNTIME_VARIABLES)
    for name, path in paths.items():
        texts = [help_text(path)[1]]
        commands_section = re.search(r"Commands:\n(.*?)\n\n", texts[0], re.S)
        for line in commands_section.group(1).splitlines() if commands_section else []:
            sub = line.split()[0]
            if sub != "help":
                texts.append(help_text(path, sub)[1])
        for text in texts:
            known.update(re.findall(r"\[env: ([A-Z][A-Z0-9_]*)=", text))
            known.update(re.findall(r"^\s+([A-Z][A-Z0-9_]{2,})\s", text, re.M))   # the secrets lists
            known.update(re.findall(r"\b(LOG_LEVEL|GROUP_TO_ROLE_)", text))
    places = {}
    for where, argv in commands:
        places.setdefault(tuple(argv), []).append(where)
    checked = 0
    for argv, wheres in places.items():
        binary = os.path.basename(argv[0]) if argv else ""
        if binary not in paths:
            continue   # e.g. an exec probe of another program
        args = list(argv[1:])
        cut = args.index("--") if "--" in args else len(args)
        returncode, output = help_text(paths[binary], *args[:cut])
        checked += 1
        if returncode != 0:
            first = output.strip().splitlines()[0] if output.strip() else f"exit {returncode}"
            fail(f"`{' '.join(argv)}`", f"does not parse with {paths[binary]}: {first}\n"
                 + "".join(f"        in {w}\n" for w in wheres).rstrip())
    suggested = set(re.findall(r"^#\s*([A-Z][A-Z0-9_]+)=", open(settings_file).read(), re.M))
    for var in sorted(env_names | suggested):
        base = var[: -len("_FILE")] if var.endswith("_FILE") and var not in known else var
        if base not in known and not any(base.startswith(p) for p in known if p.endswith("_")):
            fail("environment", f"{var} is read by neither binary (not in their --help)")
    print(f"      {checked} distinct command lines and {len(env_names | suggested)} variables checked against {bin_dir}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repo", required=True)
    parser.add_argument("--bin-dir", required=True)
    parser.add_argument("rendered", nargs="+")
    args = parser.parse_args()
    os.chdir(args.repo)

    commands, env_names = [], set()
    for path in args.rendered:
        name = "deploy/k8s/" + os.path.basename(path)[: -len(".yaml")].replace("-", "/", 1) \
            if os.path.basename(path).startswith("overlays-") else "deploy/k8s/base"
        with open(path) as f:
            docs = [d for d in yaml.safe_load_all(f) if d]
        check_rendering(name, docs, commands, env_names)

    for copy, original in POLICY_COPIES.items():
        if not os.path.exists(original) or not filecmp.cmp(copy, original, shallow=False):
            fail(copy, f"differs from {original}: cp {original} {copy}")

    templates = sorted(glob.glob("deploy/k8s/**/secrets.env.example", recursive=True))
    template_keys = set()
    for template in templates:
        template_keys |= set(re.findall(r"^([A-Z][A-Z0-9_]*)=", open(template).read(), re.M))
    external = set().union(*EXTERNAL_SECRETS.values())
    used = {
        name[: -len("_FILE")]
        for name in env_names
        if name.endswith("_FILE") and name not in PLAIN_FILE_SETTINGS
    } - external
    if template_keys != used:
        fail(" + ".join(templates), f"name {sorted(template_keys)}, the pods read {sorted(used)}")

    check_against_binaries(args.bin_dir, commands, env_names, "deploy/k8s/base/settings.env")

    for error in errors:
        print(f"FAIL  {error}")
    if errors:
        sys.exit(1)
    print(f"      {len(args.rendered)} renderings: ok")


if __name__ == "__main__":
    main()
