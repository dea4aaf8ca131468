-- One row per live scheduled meeting (an occurrence of a series), as Webex last reported it.
with scheduled as (
    {{ webex_live_rows(source('webex', 'series_meetings'), 'scheduledMeeting') }}
)

select
    id as scheduled_meeting_id,
    "meetingSeriesId" as series_id,
    title,
    state as meeting_state,
    coalesce("isModified", false) as is_modified,
    cast(start as timestamp) as scheduled_start_at,
    cast("end" as timestamp) as scheduled_end_at,
    {{ webex_minutes_between('start', '"end"') }} as scheduled_minutes,
    lower("hostEmail") as host_email,
    "hostDisplayName" as host_display_name,
    "hostUserId" as host_user_id,
    "scheduledType" as scheduled_type,
    "meetingNumber" as meeting_number
from scheduled
