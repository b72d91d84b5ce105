"""The published class lists of UCF50 and UCF101, to tell a user where each class of their data comes from.

UCF101 holds all fifty UCF50 classes under the same names plus the 51 below.
"""
from __future__ import annotations

UCF50_CLASSES = frozenset("""
BaseballPitch Basketball BenchPress Biking Billiards BreastStroke CleanAndJerk Diving Drumming Fencing GolfSwing
HighJump HorseRace HorseRiding HulaHoop JavelinThrow JugglingBalls JumpingJack JumpRope Kayaking Lunges
MilitaryParade Mixing Nunchucks PizzaTossing PlayingGuitar PlayingPiano PlayingTabla PlayingViolin PoleVault
PommelHorse PullUps Punch PushUps RockClimbingIndoor RopeClimbing Rowing SalsaSpin SkateBoarding Skiing Skijet
SoccerJuggling Swing TaiChi TennisSwing ThrowDiscus TrampolineJumping VolleyballSpiking WalkingWithDog YoYo
""".split())
UCF101_CLASSES = UCF50_CLASSES | frozenset("""
ApplyEyeMakeup ApplyLipstick Archery BabyCrawling BalanceBeam BandMarching BasketballDunk BlowDryHair
BlowingCandles BodyWeightSquats Bowling BoxingPunchingBag BoxingSpeedBag BrushingTeeth CliffDiving CricketBowling
CricketShot CuttingInKitchen FieldHockeyPenalty FloorGymnastics FrisbeeCatch FrontCrawl Haircut Hammering
HammerThrow HandstandPushups HandstandWalking HeadMassage IceDancing Knitting LongJump MoppingFloor ParallelBars
PlayingCello PlayingDaf PlayingDhol PlayingFlute PlayingSitar Rafting ShavingBeard Shotput SkyDiving SoccerPenalty
StillRings SumoWrestling Surfing TableTennisShot Typing UnevenBars WallPushups WritingOnBoard
""".split())


def origin(label: str) -> str:
    """'UCF50', 'UCF101' (a class UCF101 added) or 'own' (a class of neither list)."""
    if label in UCF50_CLASSES:
        return "UCF50"
    return "UCF101" if label in UCF101_CLASSES else "own"
