"""Singer tap for Webex meetings of meeting series."""
