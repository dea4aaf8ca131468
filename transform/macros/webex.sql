{#- Helpers shared by the staging models, one SQL for DuckDB and PostgreSQL. -#}

{#- Per key, the latest version of a row a loader kept (an upserting loader keeps one, an
    append-only loader every version it was sent). -#}
{% macro webex_latest_rows(relation, key) -%}
select *
from (
    select
        *,
        row_number() over (
            partition by {{ key }}
            order by _sdc_extracted_at desc nulls last, _sdc_batched_at desc nulls last
        ) as webex_version
    from {{ relation }}
) as versions
where webex_version = 1
{%- endmacro %}

{#- The rows of one meetingType that are live: per id the latest version, unless that version
    is a tombstone (_sdc_deleted_at set: deleted in Webex). The type is checked after
    choosing the version, so a tombstone always wins over the versions before it. -#}
{% macro webex_live_rows(relation, meeting_type) -%}
select *
from ({{ webex_latest_rows(relation, 'id') }}) as latest
where _sdc_deleted_at is null
  and "meetingType" = '{{ meeting_type }}'
{%- endmacro %}

{#- Minutes from one timestamp to another, to the hundredth (Webex times are whole seconds). -#}
{% macro webex_minutes_between(start, end) -%}
{{ webex_round('(' ~ dbt.datediff(start, end, 'second') ~ ') / 60.0') }}
{%- endmacro %}

{#- A number to the hundredth, as a decimal in both warehouses (DuckDB divides decimals
    into doubles, PostgreSQL rounds only numerics). -#}
{% macro webex_round(expression, digits=2) -%}
cast(round(cast({{ expression }} as decimal(24, 8)), {{ digits }}) as decimal(12, {{ digits }}))
{%- endmacro %}

{#- A date-time Webex wrote as text inside JSON (an offset of the tap's timezone, or Z) as a
    UTC timestamp: a plain cast would keep the local time and drop the offset in DuckDB. -#}
{% macro webex_utc(text) -%}
{{ webex_known("(cast(" ~ text ~ " as timestamptz) at time zone 'UTC')") }}
{%- endmacro %}

{#- A UTC timestamp, null when it is Webex's "not known yet", 1970-01-01T00:00:00Z (in
    whatever offset it was written). -#}
{% macro webex_known(column) -%}
case when {{ column }} > cast('1970-01-02' as timestamp) then cast({{ column }} as timestamp) end
{%- endmacro %}

{#- One row per element of a JSON array column (an array of objects the tap emits): the
    loaders store it as DuckDB JSON, or as a PostgreSQL jsonb[] (target-postgres's rule). -#}
{% macro webex_unnest(column) -%}
{{ return(adapter.dispatch('webex_unnest')(column)) }}
{%- endmacro %}

{% macro default__webex_unnest(column) -%}
unnest({{ column }})
{%- endmacro %}

{% macro duckdb__webex_unnest(column) -%}
unnest(cast({{ column }} as json[]))
{%- endmacro %}

{#- The type a loader gives a JSON array column (see webex_unnest). -#}
{% macro webex_json_array_type() -%}
{{ return(adapter.dispatch('webex_json_array_type')()) }}
{%- endmacro %}

{% macro default__webex_json_array_type() -%}
jsonb[]
{%- endmacro %}

{% macro duckdb__webex_json_array_type() -%}
json
{%- endmacro %}

{#- The latest version of each participant the loader kept. The participants stream can be
    deselected (it needs the scope meeting:participants_read, and its records are personal
    data): then the loader made no table, and the participants are none, with the columns
    the models read, instead of a failing build. -#}
{% macro webex_participant_rows() -%}
{%- set relation = source('webex', 'meeting_participants') -%}
{%- if not execute or load_relation(relation) is not none -%}
{{ webex_latest_rows(relation, '"meetingId", id') }}
{%- else -%}
select
    cast(null as varchar) as id,
    cast(null as varchar) as "meetingId",
    cast(null as varchar) as "meetingSeriesId",
    cast(null as varchar) as email,
    cast(null as varchar) as "displayName",
    cast(null as boolean) as host,
    cast(null as boolean) as "coHost",
    cast(null as boolean) as invitee,
    cast(null as varchar) as state,
    cast(null as timestamp) as "joinedTime",
    cast(null as timestamp) as "leftTime",
    cast(null as varchar) as "hostEmail",
    cast(null as varchar) as "siteUrl",
    cast(null as {{ webex_json_array_type() }}) as devices
where 1 = 0
{%- endif -%}
{%- endmacro %}
