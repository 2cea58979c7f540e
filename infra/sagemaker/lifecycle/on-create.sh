#!/bin/bash
# matsuri on-create (runs once, as root, when the notebook instance is created).
# Installs the kit at the event's pinned version and the course release for this participant, in
# the language they read (LANGUAGE, from participants.csv; empty: the course's language).
# AWS stops a lifecycle script after 5 minutes, so the installs run in the background (nohup)
# and log to /home/ec2-user/SageMaker/.matsuri/setup.log; the script itself returns in seconds.
set -euo pipefail

EVENT_ID="@@EVENT_ID@@"
BUCKET="@@BUCKET@@"
COURSE="@@COURSE@@"
KIT_SPEC="@@KIT_SPEC@@"
PIP_INDEX_URL="@@PIP_INDEX_URL@@"
LANGUAGE="@@LANGUAGE@@"

HOME_DIR=/home/ec2-user/SageMaker
STATE_DIR="$HOME_DIR/.matsuri"
mkdir -p "$STATE_DIR"

# Who is this instance for? Its name is "<event id>-<participant>".
INSTANCE=$(python3 -c "import json; print(json.load(open('/opt/ml/metadata/resource-metadata.json'))['ResourceName'])")
PARTICIPANT="${INSTANCE#"$EVENT_ID"-}"
cat > "$STATE_DIR/event.json" <<JSON
{"event": "$EVENT_ID", "bucket": "$BUCKET", "course": "$COURSE", "participant": "$PARTICIPANT", "language": "$LANGUAGE"}
JSON
chown -R ec2-user:ec2-user "$STATE_DIR"

nohup sudo -u ec2-user -i bash -s > "$STATE_DIR/setup.log" 2>&1 <<SETUP &
set -e
source /home/ec2-user/anaconda3/bin/activate python3
if [ -n "$PIP_INDEX_URL" ]; then export PIP_INDEX_URL="$PIP_INDEX_URL"; fi
pip install --quiet "$KIT_SPEC"
export PLOOMBER_STATS_ENABLED=false
RELEASE="releases/$COURSE/"
if [ -n "$LANGUAGE" ] && [ -n "\$(aws s3 ls "s3://$BUCKET/releases/$LANGUAGE/$COURSE/" 2>/dev/null)" ]; then
  RELEASE="releases/$LANGUAGE/$COURSE/"   # the copy in the participant's language
fi
aws s3 sync --only-show-errors "s3://$BUCKET/\$RELEASE" "$HOME_DIR/$COURSE/"
echo "matsuri ready: $KIT_SPEC, course $COURSE"
SETUP
