# The dunning image: every service of docker-compose.yml runs it with a different command.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml setup.cfg README.md ./
COPY core core
COPY channels channels
COPY plugins plugins
COPY templates templates
COPY testing testing
COPY examples examples
RUN pip install . && useradd --create-home dunning
USER dunning
EXPOSE 8000
CMD ["dunning", "--help"]
