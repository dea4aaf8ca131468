{#- Helpers shared by the staging models, one SQL for DuckDB and PostgreSQL. -#}

{#- The rows of one meetingType that are live: per id the latest version a loader kept
    (an upserting loader keeps one, an append-only loader every version it was sent), unless
    that version is a tombstone (_sdc_deleted_at set: deleted in Webex). The type is checked
    after choosing the version, so a tombstone always wins over the versions before it. -#}
{% macro webex_live_rows(relation, meeting_type) -%}
select *
from (
    select
        *,
        row_number() over (
            partition by id
            order by _sdc_extracted_at desc nulls last, _sdc_batched_at desc nulls last
        ) as webex_version
    from {{ relation }}
) as versions
where webex_version = 1
  and _sdc_deleted_at is null
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
