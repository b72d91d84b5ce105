# HAR Studio as a container, with the hosted defaults (training off, links only from YouTube, never to
# private addresses; see README "Settings"):
#   docker build -t har-studio . && docker run -p 8501:8501 har-studio
# Override any HAR_* setting with `docker run -e`, e.g. -e HAR_ICE_SERVERS='[{"urls": ...}]'.
FROM python:3.11-slim

# The wheels bring their own native libraries (TensorFlow, OpenCV headless, PyAV with FFmpeg); what they
# link from the system (glibc, libstdc++, zlib) is already in python:3.11-slim, so no apt-get step.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    TF_CPP_MIN_LOG_LEVEL=3 \
    HOME=/tmp \
    HAR_HOSTED=1 \
    HAR_WEIGHTS_DIR=/app/weights \
    HAR_DATA_DIR=/app/data \
    HAR_CACHE_DIR=/tmp/har_cache \
    PORT=8501

WORKDIR /app
# Dependencies first, so this layer is reused while only the code changes.
COPY requirements.txt requirements-common.txt ./
RUN pip install --no-cache-dir -r requirements.txt

COPY . .
# Any user works (Hugging Face Spaces runs uid 1000): the app writes only under /tmp.
USER 1000
EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
    CMD python -c "import os, urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ[\"PORT\"]}/_stcore/health', timeout=4)"
CMD ["sh", "-c", "exec streamlit run app.py --server.port=${PORT} --server.address=0.0.0.0"]
