#!/bin/bash
# matsuri on-start (runs as root every time the notebook instance starts).
# Installs an idle auto-stop, as AWS's lifecycle-config samples do (auto-stop-idle), but with the
# checker carried inline rather than downloaded: instances may have no route to public code hosts.
set -euo pipefail

IDLE_SECONDS=@@IDLE_SECONDS@@
STATE_DIR=/home/ec2-user/SageMaker/.matsuri
mkdir -p "$STATE_DIR"
echo 'PLOOMBER_STATS_ENABLED=false' > /etc/profile.d/matsuri.sh

cat > "$STATE_DIR/autostop.py" <<'PYEOF'
@@AUTOSTOP_PY@@
PYEOF

PYTHON=/home/ec2-user/anaconda3/envs/JupyterSystemEnv/bin/python
[ -x "$PYTHON" ] || PYTHON=/usr/bin/python3
(crontab -l 2>/dev/null | grep -v matsuri-autostop; \
 echo "*/5 * * * * $PYTHON $STATE_DIR/autostop.py --idle-seconds $IDLE_SECONDS >> /var/log/matsuri-autostop.log 2>&1 # matsuri-autostop") | crontab -
