"""faqbot: answers community members' questions from the docs moderators keep."""

__version__ = "0.1.0"
