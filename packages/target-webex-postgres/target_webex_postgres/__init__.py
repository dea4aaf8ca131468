"""target-webex-postgres: a Singer target that hands each batch to PostgreSQL in one COPY.

The tables are those target-postgres 0.8.1 writes as meltano.yml configures it (see
:mod:`.columns`), so models and readers of either loader's warehouse work with both.
"""
