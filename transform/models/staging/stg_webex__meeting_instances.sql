-- One row per meeting instance: a time the scheduled meeting actually ran (a meeting that
-- was restarted has two or more).
with instances as (
    {{ webex_live_rows(source('webex', 'series_meetings'), 'meeting') }}
)

select
    id as meeting_instance_id,
    "scheduledMeetingId" as scheduled_meeting_id,
    "meetingSeriesId" as series_id,
    state as instance_state,
    lower("hostEmail") as host_email,
    cast(start as timestamp) as started_at,
    cast("end" as timestamp) as ended_at,
    {{ webex_minutes_between('start', '"end"') }} as minutes,
    "hostDidJoin" as host_did_join,
    "attendeeDidJoin" as attendee_did_join,
    "hasRecording" as has_recording,
    "hasTranscription" as has_transcription,
    "hasChat" as has_chat,
    "hasPolls" as has_polls,
    "hasQA" as has_qa
from instances
