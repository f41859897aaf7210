"""Checks of the rendered okta-mcp manifests that JSON schemas cannot make (run by deploy/check.sh).

Each argument is one rendered kustomization (base or an overlay). Per rendering:
- every volume, ConfigMap and Secret a pod uses exists (or is one the user creates: the TLS
  Secret), with the keys it names; every NAME_FILE variable points at a file a mount provides;
- the proxy listens on 0.0.0.0:3001 or 0.0.0.0:3443 and is the only container with ports; the
  tool server listens on loopback only, never with --allow-non-loopback, and is a native sidecar;
- both containers read IDENTITY_HEADER_KEY from the same Secret key;
- every container: non-root, no privilege escalation, read-only root, all capabilities dropped,
  seccomp RuntimeDefault, memory request and limit, CPU request; the probes the README promises;
  a grace period longer than the preStop sleep plus the proxy's 3 s drain;
- Service and PodDisruptionBudget select the pod, and the Service targets a declared port.
Once: the policy copies under deploy/k8s equal policies/, the secrets template names exactly the
secrets the pods use, and, when the binaries are built, every command line (container and exec
probe) parses with the real binaries and every environment variable set (or suggested in
settings.env) is one they read.
"""

import argparse
import filecmp
import ipaddress
import os
import re
import subprocess
import sys

import yaml

PROXY, TOOL_SERVER = "proxy", "tool-server"
# Secrets the user creates outside kustomize (overlays/ingress and overlays/proxy-tls).
EXTERNAL_SECRETS = {"okta-mcp-tls": {"tls.crt", "tls.key"}}
POLICY_COPIES = {
    "deploy/k8s/base/policies/roles.toml": "policies/roles.toml",
    "deploy/k8s/base/policies/okta-tools.toml": "policies/okta-tools.toml",
    "deploy/k8s/overlays/wrap/policies/everything.toml": "policies/everything.toml",
}
PROXY_DRAIN_SECS = 3
BINARIES = ("okta-mcp-proxy", "okta-mcp-tool-server")
# Read by the runtime libraries rather than by our flags, so absent from --help.
RUNTIME_VARIABLES = {"TOKIO_WORKER_THREADS"}

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


def check_rendering(name, docs, commands, env_names):
    by_kind = {}
    for doc in docs:
        by_kind.setdefault(doc["kind"], {})[doc["metadata"]["name"]] = doc
    configmaps, secrets = by_kind.get("ConfigMap", {}), dict(by_kind.get("Secret", {}))
    for secret, keys in EXTERNAL_SECRETS.items():
        secrets.setdefault(secret, {"data": dict.fromkeys(keys, "")})
    deployments = by_kind.get("Deployment", {})
    if list(deployments) != ["okta-mcp"]:
        fail(name, f"expected one Deployment okta-mcp, found {sorted(deployments)}")
        return
    deployment = deployments["okta-mcp"]
    pod = deployment["spec"]["template"]["spec"]
    labels = deployment["spec"]["template"]["metadata"].get("labels", {})
    where = f"{name}: Deployment okta-mcp"

    pod_security = pod.get("securityContext", {})
    if pod_security.get("runAsNonRoot") is not True:
        fail(where, "pod securityContext.runAsNonRoot is not true")
    if pod_security.get("seccompProfile", {}).get("type") != "RuntimeDefault":
        fail(where, "pod securityContext.seccompProfile is not RuntimeDefault")
    if pod.get("automountServiceAccountToken") is not False:
        fail(where, "automountServiceAccountToken is not false")

    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    containers = {c["name"]: c for c in pod.get("containers", [])}
    init = {c["name"]: c for c in pod.get("initContainers", [])}
    if set(containers) != {PROXY} or set(init) != {TOOL_SERVER}:
        fail(where, f"expected containers [proxy] and initContainers [tool-server], found "
                    f"{sorted(containers)} and {sorted(init)}")
        return
    proxy, tool = containers[PROXY], init[TOOL_SERVER]
    if tool.get("restartPolicy") != "Always":
        fail(where, "tool-server is not a native sidecar (restartPolicy: Always)")

    # Volumes and what they provide: mount path + file -> (kind, object, key).
    def provided_files(container):
        files = {}
        for mount in container.get("volumeMounts", []):
            volume = volumes.get(mount["name"])
            if volume is None:
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

    identity_sources = []
    for container in (proxy, tool):
        cname = container["name"]
        cwhere = f"{where} container {cname}"
        files = provided_files(container)
        for source in container.get("envFrom", []):
            ref = source.get("configMapRef") or source.get("secretRef")
            store = configmaps if "configMapRef" in source else secrets
            if ref["name"] not in store:
                fail(cwhere, f"envFrom {ref['name']} is not rendered")
            else:
                env_names.update((store[ref["name"]].get("data") or {}).keys())
        for env in container.get("env", []):
            env_names.add(env["name"])
            if env["name"].endswith("_FILE"):
                if env.get("value") not in files:
                    fail(cwhere, f"{env['name']}={env.get('value')} is not a file any mount provides")
                elif env["name"] == "IDENTITY_HEADER_KEY_FILE":
                    identity_sources.append(files[env["value"]])
            if "valueFrom" in env:
                fail(cwhere, f"{env['name']}: secrets are read from files (NAME_FILE), not valueFrom")

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
    ports = {p["containerPort"]: p.get("name") for p in proxy.get("ports", [])}
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

    # Probes and termination.
    readiness = proxy.get("readinessProbe", {}).get("httpGet", {})
    liveness = proxy.get("livenessProbe", {}).get("httpGet", {})
    if readiness.get("path") != "/ready" or liveness.get("path") != "/health":
        fail(where, "proxy probes: readiness must GET /ready and liveness /health")
    for probe in (readiness, liveness):
        if probe and probe.get("port") not in ports.values() and probe.get("port") not in ports:
            fail(where, f"proxy probe port {probe.get('port')} is not a declared port")
    pre_stop = proxy.get("lifecycle", {}).get("preStop", {}).get("sleep", {}).get("seconds", 0)
    grace = pod.get("terminationGracePeriodSeconds", 30)
    if grace < pre_stop + PROXY_DRAIN_SECS + 2:
        fail(where, f"terminationGracePeriodSeconds {grace} < preStop {pre_stop} s + drain {PROXY_DRAIN_SECS} s + 2 s")

    # Selectors.
    def selects(selector):
        return selector and all(labels.get(k) == v for k, v in selector.items())

    for svc_name, svc in by_kind.get("Service", {}).items():
        if not selects(svc["spec"].get("selector")):
            fail(name, f"Service {svc_name} does not select the okta-mcp pod")
        for port in svc["spec"].get("ports", []):
            if port.get("targetPort") not in ports.values() and port.get("targetPort") not in ports:
                fail(name, f"Service {svc_name} targets port {port.get('targetPort')}, not declared by the proxy")
    pdbs = by_kind.get("PodDisruptionBudget", {})
    if not pdbs or not all(selects(p["spec"]["selector"].get("matchLabels")) for p in pdbs.values()):
        fail(name, "no PodDisruptionBudget selecting the okta-mcp pod")
    for ing_name, ing in by_kind.get("Ingress", {}).items():
        for rule in ing["spec"].get("rules", []):
            for path in rule.get("http", {}).get("paths", []):
                backend = path["backend"]["service"]
                if backend["name"] not in by_kind.get("Service", {}):
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

    template = "deploy/k8s/base/secrets.env.example"
    template_keys = set(re.findall(r"^([A-Z][A-Z0-9_]*)=", open(template).read(), re.M))
    used = {name[: -len("_FILE")] for name in env_names if name.endswith("_FILE")}
    if template_keys != used:
        fail(template, f"names {sorted(template_keys)}, the pods read {sorted(used)}")

    check_against_binaries(args.bin_dir, commands, env_names, "deploy/k8s/base/settings.env")

    for error in errors:
        print(f"FAIL  {error}")
    if errors:
        sys.exit(1)
    print(f"      {len(args.rendered)} renderings: ok")


if __name__ == "__main__":
    main()
