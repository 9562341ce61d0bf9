"""opsflow's scheduling simulator: nova's filter scheduler and its alternatives, in simpy.

``profile`` reads a traffic profile, ``engine`` runs one policy over it, ``cost`` measures the
decision cost as the fleet grows, ``report`` writes the markdown report with its plots.
"""
