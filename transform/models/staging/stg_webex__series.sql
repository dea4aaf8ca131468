-- One row per live meeting series: the series' own record (its first occurrence's times).
with series as (
    {{ webex_live_rows(source('webex', 'meeting_series'), 'meetingSeries') }}
)

select
    id as series_id,
    title,
    lower("hostEmail") as host_email,
    "hostDisplayName" as host_display_name,
    "hostUserId" as host_user_id,
    "scheduledType" as scheduled_type,
    state as series_state,
    recurrence,
    cast(start as timestamp) as first_start_at,
    cast("end" as timestamp) as first_end_at,
    {{ webex_minutes_between('start', '"end"') }} as scheduled_minutes,
    "siteUrl" as site_url
from series
