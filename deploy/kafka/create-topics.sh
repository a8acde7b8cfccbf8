#!/usr/bin/env bash
# One-shot topic initialiser of compose.yaml (service kafka-init), run inside
# the apache/kafka image. Creates every topic that is missing, with the same
# partitions, replication factor and min ISR as scripts/stack, then waits
# until every partition has a leader and a full ISR. Idempotent: existing
# topics are left alone (partitions are never reduced).
#
# Environment (set in compose.yaml):
#   TAGFLOW_BOOTSTRAP         internal listeners, host:port,...
#   TAGFLOW_TOPICS            space-separated topic names
#   TAGFLOW_TOPIC_PARTITIONS  partitions of a new topic
#   TAGFLOW_TOPIC_RF          replication factor
#   TAGFLOW_MIN_ISR           min.insync.replicas of each topic
#   TAGFLOW_TOPICS_TIMEOUT    seconds to wait for a full ISR [120]
#   KAFKA_TOPICS              the kafka-topics tool [/opt/kafka/bin/kafka-topics.sh]
set -euo pipefail

: "${TAGFLOW_BOOTSTRAP:?}" "${TAGFLOW_TOPICS:?}" "${TAGFLOW_TOPIC_PARTITIONS:?}"
: "${TAGFLOW_TOPIC_RF:?}" "${TAGFLOW_MIN_ISR:?}"
TIMEOUT="${TAGFLOW_TOPICS_TIMEOUT:-120}"
TOPICS_CMD="${KAFKA_TOPICS:-/opt/kafka/bin/kafka-topics.sh}"

read -r -a topics <<<"$TAGFLOW_TOPICS"
for topic in "${topics[@]}"; do
  "$TOPICS_CMD" --bootstrap-server "$TAGFLOW_BOOTSTRAP" --create --if-not-exists \
    --topic "$topic" --partitions "$TAGFLOW_TOPIC_PARTITIONS" \
    --replication-factor "$TAGFLOW_TOPIC_RF" \
    --config "min.insync.replicas=$TAGFLOW_MIN_ISR"
done

# Healthy = no partition without a leader and none under-replicated.
deadline=$((SECONDS + TIMEOUT))
while :; do
  unhealthy="$("$TOPICS_CMD" --bootstrap-server "$TAGFLOW_BOOTSTRAP" --describe \
    --topic "$(IFS='|'; echo "${topics[*]}")" \
    --under-replicated-partitions --unavailable-partitions 2>/dev/null || echo error)"
  if [[ -z "$unhealthy" ]]; then
    echo "topics ready: ${topics[*]} ($TAGFLOW_TOPIC_PARTITIONS partitions, RF $TAGFLOW_TOPIC_RF)"
    exit 0
  fi
  if ((SECONDS >= deadline)); then
    echo "topics not healthy after ${TIMEOUT}s:" >&2
    echo "$unhealthy" >&2
    exit 1
  fi
  sleep 2
done
