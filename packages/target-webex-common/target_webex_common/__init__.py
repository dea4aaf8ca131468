"""The Singer side of the project's loaders (target-webex-duckdb, target-webex-postgres).

Each loader package holds only its database: columns and types, table creation, the load of
one batch. What is here is the same for both: the message reader, STATE after every written
batch, records held per key, the SDK's per-record costs left out (see README "The pipeline").
"""
