"""The case workers' web desk: alerts, caseload, case pages and charts, in a browser.

A door like the Telegram one: it runs as its own process (`counsel-bot web`) on the bot's
store, through the case classes; what the running bot must act on goes to its inbox.
"""
