"""`fera data get|convert|verify`: obtain FER-2013 (and FER+ labels), turn the CSV into class folders, check them.

get.py downloads or unpacks the data, convert.py writes the folders, verify.py checks them,
soft_labels.py reads FER+ vote distributions for training, command.py is the command line.
"""
