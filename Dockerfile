# The Airflow image of the Spectrum -> Procore budget import: the official image, Microsoft's ODBC Driver 18
# for SQL Server (Spectrum's store) and this project's Python requirements. docker-compose.yaml builds it;
# the same image runs on Kubernetes (official Helm chart) or any Docker-based platform.
FROM apache/airflow:3.3.2-python3.11

USER root
# Microsoft ODBC Driver 18 for SQL Server and unixODBC, from Microsoft's repository for this image's Debian
# release (Microsoft's documented install), and the snapshot PDF's fonts (DejaVu; Droid Sans Fallback for CJK). msodbcsql18 asks for its EULA to be accepted.
# Pin the driver with --build-arg MSODBCSQL18_VERSION==18.x.y.z-1 (note the leading "=").
ARG MSODBCSQL18_VERSION=""
RUN set -eux; \
    . /etc/os-release; \
    curl -fsSL -o /tmp/packages-microsoft-prod.deb \
        "https://packages.microsoft.com/config/debian/${VERSION_ID%%.*}/packages-microsoft-prod.deb"; \
    dpkg -i /tmp/packages-microsoft-prod.deb; \
    rm /tmp/packages-microsoft-prod.deb; \
    apt-get update; \
    ACCEPT_EULA=Y apt-get install -y --no-install-recommends "msodbcsql18${MSODBCSQL18_VERSION}" unixodbc \
        fonts-dejavu-core fonts-droid-fallback; \
    odbcinst -q -d -n "ODBC Driver 18 for SQL Server"; \
    apt-get autoremove -yqq --purge; \
    apt-get clean; \
    rm -rf /var/lib/apt/lists/*

# Folders the containers write to; a named volume mounted on them starts with this ownership.
RUN mkdir -p /opt/airflow/budget_reports /opt/airflow/emulator-data \
    && chown -R airflow:0 /opt/airflow/budget_reports /opt/airflow/emulator-data

USER airflow
# The runtime requirements only (tests and lint tools are in requirements-dev.txt, never in the image), within
# constraints.txt: the same resolved set `make setup` installs and the tests run on. requirements.txt pins
# apache-airflow==3.3.2, the base image's version, so pip never changes Airflow itself.
COPY --chown=airflow:0 requirements.txt constraints.txt /requirements/
RUN pip install --no-cache-dir -r /requirements/requirements.txt -c /requirements/constraints.txt

# The code, so the image also runs without the compose bind mounts (which override these folders).
# `include` (and `standins`, for the emulator service) are imported as packages from /opt/airflow.
COPY --chown=airflow:0 dags /opt/airflow/dags
COPY --chown=airflow:0 plugins /opt/airflow/plugins
COPY --chown=airflow:0 include /opt/airflow/include
COPY --chown=airflow:0 config/airflow_local_settings.py /opt/airflow/config/airflow_local_settings.py
COPY --chown=airflow:0 standins /opt/airflow/standins
ENV PYTHONPATH=/opt/airflow \
    AIRFLOW__PROVIDERS_ODBC__ALLOW_DRIVER_IN_EXTRA=true \
    BUDGET_IMPORT_REPORTS_DIR=/opt/airflow/budget_reports
