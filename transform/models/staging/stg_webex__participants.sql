-- One row per participant of a meeting instance: Webex's participant (its id names the
-- instance and the person), however many times they joined; their joins are
-- stg_webex__participant_joins.
with participants as (
    {{ webex_participant_rows() }}
)

select
    id as participant_id,
    "meetingId" as meeting_instance_id,
    "meetingSeriesId" as series_id,
    lower(email) as email,
    "displayName" as display_name,
    coalesce(host, false) as is_host,
    coalesce("coHost", false) as is_cohost,
    coalesce(invitee, false) as is_invitee,
    state as participant_state,
    {{ webex_known('"joinedTime"') }} as joined_at,
    {{ webex_known('"leftTime"') }} as left_at,
    lower("hostEmail") as host_email,
    "siteUrl" as site_url
from participants
