#!/bin/sh
# Container start: with a command (e.g. `python -m indexer build --from demo`), run just that;
# otherwise build the demo index when none is serving yet (first start), then serve the app.
set -eu

if [ "$#" -gt 0 ]; then
    exec "$@"
fi

python -m indexer ensure-demo
exec python -m streamlit run app.py \
    --server.port=8501 \
    --server.address=0.0.0.0 \
    --server.headless=true \
    --browser.gatherUsageStats=false
